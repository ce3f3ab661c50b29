-- Ownership: a customer owns a vehicle when it is in their garage before as_of or
-- when they bought a part for it (the order line's vehicle). added_to_garage_date is the day it
-- was first saved to the garage (null when it is not in the garage or the date is unknown).
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

garage as (

    select * from {{ ref('stg_shop__customer_vehicles') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

clean_customers as (

    select customer_id from customers
    where not is_dirty

),

garage_vehicles as (

    select
        garage.customer_id,
        garage.vehicle_id,
        cast(garage.added_at as date) as added_date

    from garage
    inner join clean_customers on garage.customer_id = clean_customers.customer_id
    inner join vehicles on garage.vehicle_id = vehicles.vehicle_id
    where
        not garage.is_dirty
        and (
            garage.added_at is null
            or cast(garage.added_at as date) < (select as_of.as_of_date from as_of)
        )

),

purchased_for_vehicles as (

    select distinct
        customer_id,
        vehicle_id

    from purchase_lines
    where vehicle_id is not null

),

combined as (

    select
        customer_id,
        vehicle_id,
        added_date,
        true as is_in_garage,
        false as has_purchase_for

    from garage_vehicles

    union all

    select
        customer_id,
        vehicle_id,
        cast(null as date) as added_date,
        false as is_in_garage,
        true as has_purchase_for

    from purchased_for_vehicles

),

final as (

    select
        customer_id,
        vehicle_id,
        min(added_date) as added_to_garage_date,
        {{ dbt.bool_or('is_in_garage') }} as is_in_garage,
        {{ dbt.bool_or('has_purchase_for') }} as has_purchase_for

    from combined
    group by customer_id, vehicle_id

)

select * from final
