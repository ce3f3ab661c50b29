-- Guardrail: no candidate that fits none of the customer's vehicles, unless it is universal.
with

candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

fitting as (

    select distinct
        candidates.customer_id,
        candidates.sku

    from candidates
    inner join owned on candidates.customer_id = owned.customer_id
    inner join fitment
        on
            owned.vehicle_id = fitment.vehicle_id
            and candidates.sku = fitment.sku

)

select
    candidates.customer_id,
    candidates.candidate_rank,
    candidates.sku

from candidates
inner join products on candidates.sku = products.sku
left join fitting
    on
        candidates.customer_id = fitting.customer_id
        and candidates.sku = fitting.sku
where
    not products.is_universal
    and fitting.sku is null
