-- Owners per group of the vehicle taxonomy: each vehicle, each make+model (all years), each make,
-- and everyone ('all'). A customer who owns two vehicles of one group counts once in it.
with

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

owned_keyed as (

    select
        owned.customer_id,
        vehicles.vehicle_id,
        vehicles.make_model_key,
        vehicles.make_key

    from owned
    inner join vehicles on owned.vehicle_id = vehicles.vehicle_id

),

by_level as (

    select
        'vehicle' as taxonomy_level,
        vehicle_id as group_key,
        count(distinct customer_id) as owner_count

    from owned_keyed
    group by vehicle_id

    union all

    select
        'make_model' as taxonomy_level,
        make_model_key as group_key,
        count(distinct customer_id) as owner_count

    from owned_keyed
    group by make_model_key

    union all

    select
        'make' as taxonomy_level,
        make_key as group_key,
        count(distinct customer_id) as owner_count

    from owned_keyed
    group by make_key

    union all

    select
        'all' as taxonomy_level,
        'all' as group_key,
        count(distinct customer_id) as owner_count

    from owned_keyed

),

final as (

    select * from by_level

)

select * from final
