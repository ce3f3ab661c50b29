-- New arrivals: a prior for products too new to have sales, one row per (owned vehicle,
-- sendable product created in the var new_arrival_days days before as_of that fits the vehicle,
-- or is universal). A new part has few or no buyers yet, so its own smoothed rate is near 0;
-- its prior is what a product of its category sells to owners of that vehicle:
--   category_rate(vehicle) = mean smoothed rate of the category's established (not new) scored
--                            products for the vehicle (int_vehicle_product_rates_smoothed), over
--                            n of them;
--   category_rate(all)     = the same mean over every vehicle's scored pairs of the category;
--   prior_rate = var new_arrival_weight
--                * (n * category_rate(vehicle) + j * category_rate(all)) / (n + j),
-- j = var new_arrival_prior_strength (products), so a vehicle with few scored products in the
-- category backs off to the category's rate across all vehicles. prior_rate is on the scale of
-- vehicle_rate: int_vehicle_products_ranked gives an arrival the larger of its own score and
-- the prior's (the same horizon, season, breadth and price factors), and adds the pair where
-- it was not scored, so it can rank before it has sales. Only rows with a positive prior are
-- kept: no rows when the weight is 0.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

rates as (

    select * from {{ ref('int_vehicle_product_rates_smoothed') }}

),

owners as (

    select * from {{ ref('int_owners_counted_to_taxonomy_group') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

arrivals as (

    select
        products.sku,
        products.category,
        products.is_universal,
        cast(products.created_at as date) as created_date

    from products
    where
        not products.is_dirty
        and {{ is_sendable_product('products') }}
        and cast(products.created_at as date) >= (
            select
                cast(
                    {{ dbt.dateadd('day', -var('new_arrival_days'), 'as_of.as_of_date') }}
                    as date
                )
            from as_of
        )

),

owned_vehicles as (

    select
        group_key as vehicle_id,
        owner_count

    from owners
    where taxonomy_level = 'vehicle'

),

-- the scored pairs of products that are not new arrivals, with their category
established_rates as (

    select
        rates.vehicle_id,
        products.category,
        rates.vehicle_rate

    from rates
    inner join products on rates.sku = products.sku
    left join arrivals on rates.sku = arrivals.sku
    where arrivals.sku is null

),

vehicle_category_rates as (

    select
        vehicle_id,
        category,
        count(*) as category_product_count,
        avg(vehicle_rate) as vehicle_category_rate

    from established_rates
    group by vehicle_id, category

),

category_rates as (

    select
        category,
        avg(vehicle_rate) as category_rate

    from established_rates
    group by category

),

fitting_arrivals as (

    select
        fitment.vehicle_id,
        arrivals.sku,
        arrivals.category,
        arrivals.created_date

    from arrivals
    inner join fitment on arrivals.sku = fitment.sku
    where not arrivals.is_universal

    union all

    select
        owned_vehicles.vehicle_id,
        arrivals.sku,
        arrivals.category,
        arrivals.created_date

    from arrivals
    cross join owned_vehicles
    where arrivals.is_universal

),

priors as (

    select
        fitting_arrivals.vehicle_id,
        fitting_arrivals.sku,
        fitting_arrivals.category,
        fitting_arrivals.created_date,
        owned_vehicles.owner_count,
        coalesce(vehicle_category_rates.category_product_count, 0) as category_product_count,
        coalesce(vehicle_category_rates.vehicle_category_rate, 0) as vehicle_category_rate,
        category_rates.category_rate,
        {{ var('new_arrival_weight') }} * (
            coalesce(vehicle_category_rates.category_product_count, 0)
            * coalesce(vehicle_category_rates.vehicle_category_rate, 0)
            + {{ var('new_arrival_prior_strength') }} * category_rates.category_rate
        ) / (
            coalesce(vehicle_category_rates.category_product_count, 0)
            + {{ var('new_arrival_prior_strength') }}
        ) as prior_rate

    from fitting_arrivals
    inner join owned_vehicles on fitting_arrivals.vehicle_id = owned_vehicles.vehicle_id
    inner join category_rates on fitting_arrivals.category = category_rates.category
    left join vehicle_category_rates
        on
            fitting_arrivals.vehicle_id = vehicle_category_rates.vehicle_id
            and fitting_arrivals.category = vehicle_category_rates.category

),

final as (

    select * from priors
    where prior_rate > 0

)

select * from final
