{{ config(materialized='table') }}
-- The heuristic's re-buys, one row per (opted-in customer with a vehicle, sendable SKU they
-- bought before as_of): rebuy_probability = the re-buy hazard (int_heuristic_rebuy_hazard) of
-- the SKU in the bin of the days since the customer last bought it. A re-buy may repeat a
-- variant family the customer bought (it is that family). vehicle_id = the vehicle the
-- customer's order lines of the SKU name (the smallest id), null when none names one.
-- Empty unless heuristic is in var baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
{% set bin_starts = [0] + var('heuristic_rebuy_bin_ends_days') %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

hazard as (

    select * from {{ ref('int_heuristic_rebuy_hazard') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

opted_in_owners as (

    select * from {{ ref('int_customers_filtered_to_opted_in_owners') }}

),

sendable_products as (

    select
        sku,
        department

    from products
    where
        not is_dirty
        and {{ is_sendable_product() }}

),

last_purchases as (

    select
        purchase_lines.customer_id,
        purchase_lines.sku,
        max(purchase_lines.ordered_date) as last_purchased_date,
        min(purchase_lines.vehicle_id) as vehicle_id

    from purchase_lines
    inner join opted_in_owners on purchase_lines.customer_id = opted_in_owners.customer_id
    group by purchase_lines.customer_id, purchase_lines.sku

),

elapsed as (

    select
        last_purchases.customer_id,
        last_purchases.vehicle_id,
        last_purchases.sku,
        sendable_products.department,
        last_purchases.last_purchased_date,
        {{ dbt.datediff(
            'last_purchases.last_purchased_date', '(select as_of.as_of_date from as_of)', 'day'
        ) }} as days_since_purchase

    from last_purchases
    inner join sendable_products on last_purchases.sku = sendable_products.sku

),

binned as (

    select
        *,
        case
            {% for bin_start in bin_starts | reverse %}
                when days_since_purchase >= {{ bin_start }} then {{ bin_start }}
            {% endfor %}
        end as elapsed_bin_start_days

    from elapsed

),

scored as (

    select
        binned.customer_id,
        binned.vehicle_id,
        binned.sku,
        binned.department,
        binned.last_purchased_date,
        binned.days_since_purchase,
        binned.elapsed_bin_start_days,
        hazard.rebuy_probability

    from binned
    inner join hazard
        on
            binned.sku = hazard.sku
            and binned.elapsed_bin_start_days = hazard.elapsed_bin_start_days

),

final as (

    select * from scored
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
