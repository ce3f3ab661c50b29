-- Guardrail: no candidate of a variant family the customer already bought, unless it is a due
-- re-buy of a replenishable product (and then it must be one).
with

candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

purchased_families as (

    select * from {{ ref('int_customer_families_purchased') }}

),

due as (

    select * from {{ ref('int_customer_replenishments_flagged_due') }}

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
left join due
    on
        candidates.customer_id = due.customer_id
        and candidates.sku = due.sku
where
    not candidates.is_replenishment
    or due.sku is null
