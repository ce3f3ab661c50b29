-- Clean fitment rows whose product and vehicle both exist (orphans dropped here, not in staging).
with

fitment as (

    select * from {{ ref('stg_shop__fitment') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

clean_fitment as (

    select
        sku,
        vehicle_id

    from fitment
    where not is_dirty

),

clean_products as (

    select sku from products
    where not is_dirty

),

known as (

    select
        clean_fitment.sku,
        clean_fitment.vehicle_id

    from clean_fitment
    inner join clean_products on clean_fitment.sku = clean_products.sku
    inner join vehicles on clean_fitment.vehicle_id = vehicles.vehicle_id

),

final as (

    select * from known

)

select * from final
