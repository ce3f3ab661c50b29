-- Guardrail: per customer at most N (var candidates_per_customer) rows, ranked 1..n with no gap.
with

candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

per_customer as (

    select
        customer_id,
        count(*) as candidate_count,
        min(candidate_rank) as first_rank,
        max(candidate_rank) as last_rank

    from candidates
    group by customer_id

)

select * from per_customer
where
    candidate_count > {{ var('candidates_per_customer') }}
    or first_rank != 1
    or last_rank != candidate_count
