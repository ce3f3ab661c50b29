-- Every strategy's candidates for the backtest population, one row per (strategy, customer,
-- candidate_rank): the engine's (vehicle_aware, fct_recommendation_candidates) and every
-- baseline's (fct_baseline_candidates), all ranks with their scores. The scorecard keeps the top
-- var backtest_k; the calibration reads every rank of the probability-scored strategies.
with

population as (

    select * from {{ ref('int_customers_filtered_to_opted_in_owners') }}

),

engine_candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

baseline_candidates as (

    select * from {{ ref('fct_baseline_candidates') }}

),

candidates as (

    select
        'vehicle_aware' as strategy,
        customer_id,
        candidate_rank,
        sku,
        score

    from engine_candidates

    union all

    select
        strategy,
        customer_id,
        candidate_rank,
        sku,
        score

    from baseline_candidates

),

population_candidates as (

    select candidates.*

    from candidates
    inner join population on candidates.customer_id = population.customer_id

)

select * from population_candidates
