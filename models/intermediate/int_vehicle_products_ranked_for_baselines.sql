{{ config(materialized='table') }}
-- Baseline rankings per (strategy, vehicle, product) for the backtest and the random email arm,
-- top var baseline_candidates_per_vehicle per vehicle and strategy; only active, non-gift-card
-- products that fit the vehicle (or are universal):
--   popular_fitting    : catalog-wide distinct buyers (the old engine);
--   vehicle_raw_counts : distinct attributed buyers among the vehicle's own owners, no smoothing;
--   random_eligible    : a seeded hash of (vehicle, product, campaign seed); universal products
--                        come from a seeded shortlist of var random_universal_pool products.
-- var baseline_strategies names the strategies built (default: all); strategy heuristic is
-- ranked per customer by its own models (models/intermediate/heuristic), not here.
{% set top_per_vehicle = var('baseline_candidates_per_vehicle') %}
{% set ranked_by_strategy = {
    'popular_fitting': 'popular_ranked',
    'vehicle_raw_counts': 'raw_count_ranked',
    'random_eligible': 'random_ranked',
} %}
{% set ranked_elsewhere = ['heuristic'] %}
{% for strategy in var('baseline_strategies') %}
    {% if strategy not in ranked_by_strategy and strategy not in ranked_elsewhere %}
        {{ exceptions.raise_compiler_error(
            "var baseline_strategies: unknown strategy '" ~ strategy ~ "'; known: "
            ~ ((ranked_by_strategy.keys() | list) + ranked_elsewhere) | join(', ')) }}
    {% endif %}
{% endfor %}
{% set baseline_strategies = var('baseline_strategies') | reject('in', ranked_elsewhere) | list %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

popularity as (

    select * from {{ ref('int_products_measured_for_popularity') }}

),

buyers as (

    select * from {{ ref('int_buyers_counted_to_taxonomy_group_product') }}

),

owners as (

    select * from {{ ref('int_owners_counted_to_taxonomy_group') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

sendable_products as (

    select
        sku,
        is_universal

    from products
    where
        not is_dirty
        and {{ is_sendable_product() }}

),

owned_vehicles as (

    select group_key as vehicle_id from owners
    where taxonomy_level = 'vehicle'

),

fitting_specific as (

    select
        fitment.vehicle_id,
        fitment.sku

    from fitment
    inner join owned_vehicles on fitment.vehicle_id = owned_vehicles.vehicle_id
    inner join sendable_products on fitment.sku = sendable_products.sku
    where not sendable_products.is_universal

),

popular_universal as (

    select
        popularity.sku,
        popularity.buyer_count,
        popularity.units_sold

    from popularity
    inner join sendable_products on popularity.sku = sendable_products.sku
    where sendable_products.is_universal
    order by popularity.buyer_count desc, popularity.units_sold desc, popularity.sku asc
    limit {{ top_per_vehicle }}

),

popular_pairs as (

    select
        fitting_specific.vehicle_id,
        fitting_specific.sku,
        popularity.buyer_count,
        popularity.units_sold

    from fitting_specific
    inner join popularity on fitting_specific.sku = popularity.sku

    union all

    select
        owned_vehicles.vehicle_id,
        popular_universal.sku,
        popular_universal.buyer_count,
        popular_universal.units_sold

    from owned_vehicles
    cross join popular_universal

),

popular_ranked as (

    select
        'popular_fitting' as strategy,
        vehicle_id,
        sku,
        cast(buyer_count as {{ type_float64() }}) as score,
        row_number() over (
            partition by vehicle_id
            order by buyer_count desc, units_sold desc, sku asc
        ) as vehicle_rank

    from popular_pairs

),

raw_count_pairs as (

    select
        buyers.group_key as vehicle_id,
        buyers.sku,
        buyers.buyer_count

    from buyers
    inner join sendable_products on buyers.sku = sendable_products.sku
    left join fitment
        on
            buyers.group_key = fitment.vehicle_id
            and buyers.sku = fitment.sku
    where
        buyers.taxonomy_level = 'vehicle'
        and (sendable_products.is_universal or fitment.sku is not null)

),

raw_count_ranked as (

    select
        'vehicle_raw_counts' as strategy,
        vehicle_id,
        sku,
        cast(buyer_count as {{ type_float64() }}) as score,
        row_number() over (
            partition by vehicle_id
            order by buyer_count desc, sku asc
        ) as vehicle_rank

    from raw_count_pairs

),

random_universal as (

    select sku from sendable_products
    where is_universal
    order by {{ dbt.hash(dbt.concat(['sku', "'|'", campaign_seed('as_of')])) }}, sku
    limit {{ var('random_universal_pool') }}

),

random_pairs as (

    select
        vehicle_id,
        sku

    from fitting_specific

    union all

    select
        owned_vehicles.vehicle_id,
        random_universal.sku

    from owned_vehicles
    cross join random_universal

),

random_ranked as (

    select
        'random_eligible' as strategy,
        vehicle_id,
        sku,
        cast(0 as {{ type_float64() }}) as score,
        row_number() over (
            partition by vehicle_id
            order by
                {{ dbt.hash(dbt.concat([
                    'vehicle_id', "'|'", 'sku', "'|'", campaign_seed('as_of')
                ])) }},
                sku
        ) as vehicle_rank

    from random_pairs

),

-- only the strategies named in var baseline_strategies are computed (an unreferenced CTE costs
-- nothing): the weekly run needs random_eligible alone, the backtest all three
combined as (

    {% for strategy in baseline_strategies %}
    select * from {{ ranked_by_strategy[strategy] }}
    where vehicle_rank <= {{ top_per_vehicle }}
    {% if not loop.last %}

    union all

    {% endif %}
    {% else %}
    -- no baseline strategy selected: an empty, typed relation
    select * from random_ranked
    where false
    {% endfor %}

),

final as (

    select * from combined

)

select * from final
