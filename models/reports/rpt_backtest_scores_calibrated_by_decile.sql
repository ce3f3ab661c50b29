-- Calibration of the scores that are purchase probabilities (the engine's, vehicle_aware, and
-- the heuristic baseline's): one row per (strategy, candidate_type, decile of the score), plus
-- one per (strategy, candidate_type) over all deciles (decile null). Every candidate of a
-- population customer counts, not only the top K: predicted = its score, observed = whether the
-- customer bought that SKU in the horizon. candidate_type: rebuy (the customer bought the SKU
-- before the cut-off) or new_item. Decile 1 holds the lowest scores; ties break by customer and
-- SKU, so the split is deterministic.
{% set deciles = 10 %}
with

prior_skus as (

    select * from {{ ref('int_customer_products_bought_before_backtest') }}

),

purchases as (

    select * from {{ ref('int_order_lines_filtered_to_backtest_horizon') }}

),

-- the probability-scored strategies' candidates, every rank
candidates as (

    select
        strategy,
        customer_id,
        sku,
        score

    from {{ ref('int_customer_products_recommended_for_backtest') }}
    where strategy in ('vehicle_aware', 'heuristic')

),

purchased_skus as (

    select
        customer_id,
        sku

    from purchases
    group by customer_id, sku

),

labelled as (

    select
        candidates.strategy,
        candidates.customer_id,
        candidates.sku,
        case when prior_skus.sku is not null then 'rebuy' else 'new_item' end as candidate_type,
        cast(candidates.score as {{ type_float64() }}) as predicted,
        case when purchased_skus.sku is not null then 1.0 else 0.0 end as observed

    from candidates
    left join prior_skus
        on
            candidates.customer_id = prior_skus.customer_id
            and candidates.sku = prior_skus.sku
    left join purchased_skus
        on
            candidates.customer_id = purchased_skus.customer_id
            and candidates.sku = purchased_skus.sku

),

deciled as (

    select
        *,
        ntile({{ deciles }}) over (
            partition by strategy, candidate_type
            order by predicted, customer_id, sku
        ) as decile

    from labelled

),

by_decile as (

    select
        strategy,
        candidate_type,
        decile,
        count(*) as candidates,
        avg(predicted) as mean_predicted,
        avg(observed) as observed_share

    from deciled
    group by strategy, candidate_type, decile

),

all_deciles as (

    select
        strategy,
        candidate_type,
        cast(null as {{ dbt.type_bigint() }}) as decile,
        count(*) as candidates,
        avg(predicted) as mean_predicted,
        avg(observed) as observed_share

    from deciled
    group by strategy, candidate_type

),

final as (

    select * from by_decile
    union all
    select * from all_deciles

)

select * from final
