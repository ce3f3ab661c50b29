-- Fitment breadth: the number of vehicles each product fits (universal = every known
-- vehicle) and its tier from seed breadth_tiers (a universal product takes the universal tier).
with

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

breadth_tiers as (

    select * from {{ ref('breadth_tiers') }}

),

clean_products as (

    select
        sku,
        is_universal

    from products
    where not is_dirty

),

vehicle_count as (

    select count(*) as total_vehicles from vehicles

),

fitted_counts as (

    select
        sku,
        count(distinct vehicle_id) as fitted_vehicles

    from fitment
    group by sku

),

measured as (

    select
        clean_products.sku,
        clean_products.is_universal,
        case
            when clean_products.is_universal then vehicle_count.total_vehicles
            else coalesce(fitted_counts.fitted_vehicles, 0)
        end as fitment_breadth

    from clean_products
    cross join vehicle_count
    left join fitted_counts on clean_products.sku = fitted_counts.sku

),

tiered as (

    select
        measured.sku,
        measured.is_universal,
        measured.fitment_breadth,
        breadth_tiers.breadth_tier,
        breadth_tiers.tier_order as breadth_tier_order,
        breadth_tiers.score_multiplier as breadth_multiplier

    from measured
    inner join breadth_tiers
        on
            (measured.is_universal and breadth_tiers.is_universal_tier)
            or (
                not measured.is_universal
                and not breadth_tiers.is_universal_tier
                and measured.fitment_breadth >= breadth_tiers.min_vehicles
                and measured.fitment_breadth <= breadth_tiers.max_vehicles
            )

),

final as (

    select * from tiered

)

select * from final
