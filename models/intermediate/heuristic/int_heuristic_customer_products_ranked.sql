-- The heuristic baseline's candidates, one row per (opted-in customer with a vehicle,
-- candidate_rank): its new items (int_heuristic_customer_products_scored_for_new) and re-buys
-- (int_heuristic_customer_products_scored_for_rebuy) ranked together by
--   score = new_probability + rebuy_probability
-- (a product is one or the other: a re-buy's family was bought, a new item's was not), so the
-- score is P(the customer buys the product within var heuristic_horizon_days). At most var
-- max_apparel_candidates apparel products (the best scored), then the top var
-- candidates_per_customer by score, ties by sku. fct_baseline_candidates reads it as strategy
-- heuristic. Empty unless heuristic is in var baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
with

new_items as (

    select * from {{ ref('int_heuristic_customer_products_scored_for_new') }}

),

rebuys as (

    select * from {{ ref('int_heuristic_customer_products_scored_for_rebuy') }}

),

-- the apparel rows are read by import CTEs of their own: a CTE read by two consumers is
-- buffered whole by DuckDB
new_apparel as (

    select * from {{ ref('int_heuristic_customer_products_scored_for_new') }}
    where department = 'apparel'

),

rebuy_apparel as (

    select * from {{ ref('int_heuristic_customer_products_scored_for_rebuy') }}
    where department = 'apparel'

),

combined as (

    select
        customer_id,
        vehicle_id,
        sku,
        new_probability,
        cast(0 as {{ type_float64() }}) as rebuy_probability,
        false as is_rebuy

    from new_items

    union all

    select
        customer_id,
        vehicle_id,
        sku,
        cast(0 as {{ type_float64() }}) as new_probability,
        rebuy_probability,
        true as is_rebuy

    from rebuys

),

apparel_ranked as (

    select
        customer_id,
        sku,
        row_number() over (
            partition by customer_id
            order by score desc, sku asc
        ) as apparel_rank

    from (
        select
            customer_id,
            sku,
            new_probability as score

        from new_apparel

        union all

        select
            customer_id,
            sku,
            rebuy_probability as score

        from rebuy_apparel
    ) as apparel

),

apparel_over_cap as (

    select
        customer_id,
        sku

    from apparel_ranked
    where apparel_rank > {{ var('max_apparel_candidates') }}

),

scored as (

    select
        combined.customer_id,
        combined.vehicle_id,
        combined.sku,
        combined.new_probability,
        combined.rebuy_probability,
        combined.is_rebuy,
        combined.new_probability + combined.rebuy_probability as score

    from combined
    left join apparel_over_cap
        on
            combined.customer_id = apparel_over_cap.customer_id
            and combined.sku = apparel_over_cap.sku
    where apparel_over_cap.sku is null

),

ranked as (

    select
        'heuristic' as strategy,
        customer_id,
        vehicle_id,
        sku,
        score,
        new_probability,
        rebuy_probability,
        is_rebuy,
        row_number() over (
            partition by customer_id
            order by score desc, sku asc
        ) as candidate_rank

    from scored

),

top_ranked as (

    select * from ranked
    where candidate_rank <= {{ var('candidates_per_customer') }}

),

final as (

    select * from top_ranked
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
