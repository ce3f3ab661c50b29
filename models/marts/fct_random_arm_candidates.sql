{{ config(materialized='view') }}
-- The random arm's email rows, one row per (opted-in customer with a vehicle, candidate_rank) of
-- the random_eligible baseline (fct_baseline_candidates: random eligible fitting parts, the
-- experiment's baseline), with what an email shows (product, vehicle) and why: "Fits your
-- <year make model>", or "Fits your vehicle" where the vehicle is not in the clean vehicle table.
-- A view: `vehicle-recs run` reads it once, streaming, and keeps the random arm's customers only.
with

baseline_candidates as (

    select * from {{ ref('fct_baseline_candidates') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

random_eligible as (

    select * from baseline_candidates
    where strategy = 'random_eligible'

),

described as (

    select
        random_eligible.customer_id,
        random_eligible.candidate_rank,
        random_eligible.sku,
        random_eligible.family_id,
        random_eligible.vehicle_id,
        random_eligible.score,
        vehicles.model_year as vehicle_year,
        vehicles.make as vehicle_make,
        vehicles.model_name as vehicle_model,
        products.product_name,
        products.brand,
        products.category,
        products.department,
        products.price_usd,
        products.image_url,
        products.product_url,
        random_eligible.strategy as reason_code,
        coalesce(
            {{ dbt.concat(["'Fits your '", 'vehicles.vehicle_label']) }}, 'Fits your vehicle'
        ) as reason,
        random_eligible.vehicle_id is null as is_fallback

    from random_eligible
    inner join products on random_eligible.sku = products.sku
    left join vehicles on random_eligible.vehicle_id = vehicles.vehicle_id

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(candidate_rank as {{ dbt.type_bigint() }}) as candidate_rank,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(family_id as {{ dbt.type_string() }}) as family_id,
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,
        cast(score as {{ type_float64() }}) as score,
        cast(vehicle_year as {{ dbt.type_bigint() }}) as vehicle_year,
        cast(vehicle_make as {{ dbt.type_string() }}) as vehicle_make,
        cast(vehicle_model as {{ dbt.type_string() }}) as vehicle_model,
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(brand as {{ dbt.type_string() }}) as brand,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(department as {{ dbt.type_string() }}) as department,
        cast(price_usd as {{ dbt.type_numeric() }}) as price_usd,
        cast(image_url as {{ dbt.type_string() }}) as image_url,
        cast(product_url as {{ dbt.type_string() }}) as product_url,
        cast(reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(is_fallback as {{ dbt.type_boolean() }}) as is_fallback

    from described

)

select * from final
