-- Opted-in vehicle owners, one row per customer: clean, opted-in customers as of the cut-off
-- who own a vehicle then. The customers the vehicle-aware engine is for: the heuristic baseline
-- scores them and the backtest measures every strategy over them (a customer without a vehicle
-- gets the engine's fallback, which baselines do not have).
with

owned_vehicles as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

opted_in_owners as (

    select distinct owned_vehicles.customer_id

    from owned_vehicles
    inner join customers on owned_vehicles.customer_id = customers.customer_id
    where
        not customers.is_dirty
        and customers.is_email_opt_in

)

select * from opted_in_owners
