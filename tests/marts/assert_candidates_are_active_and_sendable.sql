-- Guardrail: every candidate is a clean, active product that is not a gift card.
with

candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

sendable as (

    select sku from products
    where
        not is_dirty
        and is_active
        and department != 'gift_cards'

)

select
    candidates.customer_id,
    candidates.candidate_rank,
    candidates.sku

from candidates
left join sendable on candidates.sku = sendable.sku
where sendable.sku is null
