-- Each opted-in customer's candidate pool before eligibility, one row per (customer, owned
-- vehicle, product): the top M products of every vehicle the customer owns (SPEC section 8 —
-- rank per vehicle first, then expand only those to the vehicle's owners).
with

ranked as (

    select * from {{ ref('int_vehicle_products_ranked') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

expanded as (

    select
        owned.customer_id,
        ranked.vehicle_id,
        ranked.sku,
        ranked.score,
        ranked.vehicle_rate,
        ranked.lift,
        ranked.buyer_count,
        ranked.owner_count,
        ranked.make_model_buyer_count,
        ranked.make_model_owner_count,
        ranked.make_buyer_count,
        ranked.make_owner_count

    from owned
    inner join opted_in on owned.customer_id = opted_in.customer_id
    inner join ranked on owned.vehicle_id = ranked.vehicle_id

),

final as (

    select * from expanded

)

select * from final
