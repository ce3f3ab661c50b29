-- The backtest's population, one row per customer: clean, opted-in customers who own a vehicle
-- as of the cut-off, the customers the vehicle-aware engine is for (a customer without a vehicle
-- gets the engine's fallback, which the baselines do not have). Every backtest metric is over
-- these customers only.
with

owned_vehicles as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

population as (

    select distinct owned_vehicles.customer_id

    from owned_vehicles
    inner join customers on owned_vehicles.customer_id = customers.customer_id
    where
        not customers.is_dirty
        and customers.is_email_opt_in

)

select * from population
