-- Guardrail: every candidate fits the vehicle it came from, and that vehicle is the customer's;
-- a universal product fits every vehicle (and is the only kind allowed without a vehicle).
-- The final model carries the vehicle behind each row, so this is two semi-joins on keys
-- instead of re-deriving customer x vehicle x fitment.
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

checked as (

    select
        candidates.customer_id,
        candidates.candidate_rank,
        candidates.sku,
        candidates.vehicle_id,
        coalesce(products.is_universal, false) as is_universal,
        owned.vehicle_id is not null as is_owned_vehicle,
        fitment.sku is not null as has_fitment

    from candidates
    left join products on candidates.sku = products.sku
    left join owned
        on
            candidates.customer_id = owned.customer_id
            and candidates.vehicle_id = owned.vehicle_id
    left join fitment
        on
            candidates.vehicle_id = fitment.vehicle_id
            and candidates.sku = fitment.sku

)

select * from checked
where
    (vehicle_id is not null and not is_owned_vehicle)
    or not (is_universal or has_fitment)
