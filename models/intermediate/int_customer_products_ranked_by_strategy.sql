{{ config(materialized='table') }}
-- The top N (var candidates_per_customer) eligible products per (strategy, opted-in customer),
-- one row per (strategy, customer, candidate_rank): ranked by score, then the random draw key
-- (random_eligible only; '' elsewhere), then sku, so ranks are contiguous and deterministic.
-- Keys, scores and flags only; names, prices, rate / lift / buyer counts and reasons are joined
-- once, in the marts.
with

eligible as (

    select * from {{ ref('int_customer_products_filtered_to_eligible') }}

),

ranked as (

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        family_id,
        department,
        score,
        is_replenishment,
        is_fallback,
        months_since_purchase,
        draw_key,
        row_number() over (
            partition by strategy, customer_id
            order by score desc, draw_key asc, sku asc
        ) as candidate_rank

    from eligible

),

final as (

    select * from ranked
    where candidate_rank <= {{ var('candidates_per_customer') }}

)

select * from final
