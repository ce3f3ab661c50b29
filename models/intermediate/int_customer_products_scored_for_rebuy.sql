{{ config(materialized='table') }}
-- Re-buy candidates, one row per (opted-in customer, product they bought before as_of) with
-- the probability that they buy it again within var purchase_horizon_days: the product's re-buy
-- hazard (int_products_measured_for_rebuy_hazard) in the bin of the days since their last
-- purchase of it. No gates: a re-buy competes with new items for a slot on its probability
-- (score = var rebuy_weight * probability; 1 keeps it calibrated). Candidates below var
-- rebuy_min_probability are dropped.
{% set bin_starts = var('rebuy_elapsed_bin_days') %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

hazard as (

    select * from {{ ref('int_products_measured_for_rebuy_hazard') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

last_purchases as (

    select
        purchase_lines.customer_id,
        purchase_lines.sku,
        max(purchase_lines.ordered_date) as last_purchased_date

    from purchase_lines
    inner join opted_in on purchase_lines.customer_id = opted_in.customer_id
    group by purchase_lines.customer_id, purchase_lines.sku

),

elapsed as (

    select
        customer_id,
        sku,
        last_purchased_date,
        {{ dbt.datediff(
            'last_purchased_date', '(select as_of.as_of_date from as_of)', 'day'
        ) }} as days_since_purchase

    from last_purchases

),

binned as (

    select
        *,
        {{ elapsed_bin('days_since_purchase', bin_starts) }} as elapsed_bin_start

    from elapsed

),

scored as (

    select
        binned.customer_id,
        binned.sku,
        binned.last_purchased_date,
        binned.days_since_purchase,
        greatest(
            cast(round(binned.days_since_purchase / 30.44) as {{ dbt.type_bigint() }}), 1
        ) as months_since_purchase,
        hazard.rebuy_probability,
        {{ var('rebuy_weight') }} * hazard.rebuy_probability as score

    from binned
    inner join hazard
        on
            binned.sku = hazard.sku
            and binned.elapsed_bin_start = hazard.elapsed_bin_start

),

final as (

    select * from scored
    where rebuy_probability >= {{ var('rebuy_min_probability') }}

)

select * from final
