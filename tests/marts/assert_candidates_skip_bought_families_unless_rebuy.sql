-- Guardrail: no candidate of a variant family the customer already bought, unless it is a
-- re-buy of that exact SKU (and then it must be flagged one).
with

candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

purchased_families as (

    select * from {{ ref('int_customer_families_purchased') }}

),

rebuys as (

    select * from {{ ref('int_customer_products_scored_for_rebuy') }}

)

select
    candidates.customer_id,
    candidates.candidate_rank,
    candidates.sku,
    candidates.is_replenishment

from candidates
inner join purchased_families
    on
        candidates.customer_id = purchased_families.customer_id
        and candidates.family_id = purchased_families.family_id
left join rebuys
    on
        candidates.customer_id = rebuys.customer_id
        and candidates.sku = rebuys.sku
where
    not candidates.is_replenishment
    or rebuys.sku is null
