-- Each opted-in customer's candidate pool before eligibility, one row per (customer, owned
-- vehicle, product): the top M products of every vehicle the customer owns (SPEC section 8 —
-- rank per vehicle first, then expand only those to the vehicle's owners). The score is the
-- vehicle score times how much of the customer's buying is for that vehicle (their primary
-- vehicle; model int_customer_vehicles_measured_for_activity):
--   score = vehicle_score * vehicle_activity ^ var vehicle_activity_weight
-- so a vehicle the customer once bought a part for (e.g. a friend's) ranks below the one they
-- keep buying for; a customer with one vehicle or no attributed lines is unchanged.
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

activities as (

    select * from {{ ref('int_customer_vehicles_measured_for_activity') }}

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
        ranked.score as vehicle_score,
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

with_activity as (

    select
        expanded.customer_id,
        expanded.vehicle_id,
        expanded.sku,
        expanded.vehicle_score,
        expanded.vehicle_rate,
        expanded.lift,
        expanded.buyer_count,
        expanded.owner_count,
        expanded.make_model_buyer_count,
        expanded.make_model_owner_count,
        expanded.make_buyer_count,
        expanded.make_owner_count,
        coalesce(activities.vehicle_activity, 1.0) as vehicle_activity

    from expanded
    left join activities
        on
            expanded.customer_id = activities.customer_id
            and expanded.vehicle_id = activities.vehicle_id

),

scored as (

    select
        customer_id,
        vehicle_id,
        sku,
        vehicle_score,
        vehicle_activity,
        vehicle_rate,
        lift,
        buyer_count,
        owner_count,
        make_model_buyer_count,
        make_model_owner_count,
        make_buyer_count,
        make_owner_count,
        vehicle_score
        * power(vehicle_activity, {{ var('vehicle_activity_weight') }}) as score

    from with_activity

),

final as (

    select * from scored

)

select * from final
