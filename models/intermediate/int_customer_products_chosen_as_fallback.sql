-- The documented fallback for opted-in customers without a vehicle, one row per (customer,
-- product): the catalog's most-bought universal products (active, no gift cards, at most var
-- max_apparel_candidates apparel), minus families the customer already bought. Score = share of
-- customers who bought the product in the look-back window * var purchase_horizon_days /
-- var lookback_days: a purchase probability within the horizon, like the re-buys it competes with.
{% set pool_size = var('candidates_per_customer') * 3 %}
with

popularity as (

    select * from {{ ref('int_products_measured_for_popularity') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

purchased_families as (

    select * from {{ ref('int_customer_families_purchased') }}

),

customer_count as (

    select count(*) as total_customers from customers
    where not is_dirty

),

vehicle_owners as (

    select distinct customer_id from owned

),

customers_without_vehicle as (

    select customers.customer_id
    from customers
    left join vehicle_owners on customers.customer_id = vehicle_owners.customer_id
    where
        not customers.is_dirty
        and customers.is_email_opt_in
        and vehicle_owners.customer_id is null

),

pool_ranked as (

    select
        popularity.sku,
        families.family_id,
        products.department,
        cast(popularity.buyer_count as {{ type_float64() }})
        / customer_count.total_customers
        * {{ var('purchase_horizon_days') }} / {{ var('lookback_days') }} as score,
        row_number() over (
            order by popularity.buyer_count desc, popularity.units_sold desc, popularity.sku asc
        ) as pool_rank,
        row_number() over (
            partition by products.department
            order by popularity.buyer_count desc, popularity.units_sold desc, popularity.sku asc
        ) as department_rank

    from popularity
    inner join products on popularity.sku = products.sku
    inner join families on popularity.sku = families.sku
    cross join customer_count
    where
        not products.is_dirty
        and products.is_universal
        and {{ is_sendable_product('products') }}

),

pool as (

    select * from pool_ranked
    where
        pool_rank <= {{ pool_size }}
        and (department != 'apparel' or department_rank <= {{ var('max_apparel_candidates') }})

),

expanded as (

    select
        customers_without_vehicle.customer_id,
        pool.sku,
        pool.family_id,
        pool.department,
        pool.score

    from customers_without_vehicle
    cross join pool

),

final as (

    select expanded.*
    from expanded
    left join purchased_families
        on
            expanded.customer_id = purchased_families.customer_id
            and expanded.family_id = purchased_families.family_id
    where purchased_families.family_id is null

)

select * from final
