{{ config(
    cluster_by=(['strategy', 'customer_id'] if target.type == 'bigquery' else none),
) }}
-- Baseline candidates, one row per (strategy, opted-in customer with a vehicle, candidate_rank):
-- the top N (var candidates_per_customer) of each baseline strategy built (var
-- baseline_strategies), for the backtest and the random email arm. popular_fitting,
-- vehicle_raw_counts and random_eligible come from the same expansion, eligibility, apparel cap
-- and ranking as the engine's candidates (int_customer_products_ranked_by_strategy); only the
-- per-vehicle ranking differs. heuristic (a purchase probability from customer rates and a
-- re-buy hazard) is ranked per customer by its own models (models/intermediate/heuristic),
-- empty when it is not in var baseline_strategies.
with

ranked as (

    select * from {{ ref('int_customer_products_ranked_by_strategy') }}

),

heuristic as (

    select * from {{ ref('int_heuristic_customer_products_ranked') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

baselines as (

    select
        strategy,
        customer_id,
        candidate_rank,
        sku,
        vehicle_id,
        score

    from ranked
    where strategy != 'vehicle_aware'

    union all

    select
        strategy,
        customer_id,
        candidate_rank,
        sku,
        vehicle_id,
        score

    from heuristic

),

final as (

    select
        cast(baselines.strategy as {{ dbt.type_string() }}) as strategy,
        cast(baselines.customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(baselines.candidate_rank as {{ dbt.type_bigint() }}) as candidate_rank,
        cast(baselines.sku as {{ dbt.type_string() }}) as sku,
        cast(families.family_id as {{ dbt.type_string() }}) as family_id,
        cast(baselines.vehicle_id as {{ dbt.type_string() }}) as vehicle_id,
        cast(baselines.score as {{ type_float64() }}) as score

    from baselines
    inner join families on baselines.sku = families.sku

)

select * from final
