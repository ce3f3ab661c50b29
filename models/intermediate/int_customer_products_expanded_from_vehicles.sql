{{ config(materialized='table') }}
-- Every strategy's candidate pool before eligibility, one row per (strategy, opted-in customer,
-- owned vehicle, product): each vehicle's top products under each strategy, expanded to the
-- vehicle's opted-in owners (rank per vehicle first, then expand only those, so the
-- per-customer stage stays small). Strategies are rows, not copies of this chain:
--   vehicle_aware : this engine (int_vehicle_products_ranked, top var candidates_per_vehicle);
--                   score = vehicle_score * vehicle_activity ^ var vehicle_activity_weight
--                           * order_rate ^ var order_rate_weight
--                           * project_uplift ^ var garage_uplift_weight,
--                   so a vehicle the customer once bought a part for (e.g. a friend's) ranks below
--                   the one they keep buying for (int_customer_vehicles_measured_for_activity),
--                   a frequent buyer's new items weigh more against their re-buys
--                   (int_customers_measured_for_habits), and a vehicle just saved to the garage
--                   (a new project) more than one kept for years;
--   baselines     : the strategies of int_vehicle_products_ranked_for_baselines (top var
--                   baseline_candidates_per_vehicle), their own score, no activity weighting;
--                   random_eligible's score is a seeded draw of (customer, product, campaign
--                   seed: macro campaign_seed), so each customer's pool is shuffled and each
--                   campaign draws anew.
-- Only keys and the score travel per customer (this is the widest relation of the build); the
-- vehicle-level components behind a score (rate, lift, buyer counts) are joined back in the mart
-- on (vehicle_id, sku) for the few rows that reach it. A table: here the per-vehicle lists
-- fan out to every owner (tens of millions of rows at retailer scale), which the planner
-- underestimates by two orders of magnitude; as a table, the joins downstream plan against
-- its real size instead of building their hash tables on this side.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

ranked as (

    select * from {{ ref('int_vehicle_products_ranked') }}

),

baselines as (

    select * from {{ ref('int_vehicle_products_ranked_for_baselines') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

activities as (

    select * from {{ ref('int_customer_vehicles_measured_for_activity') }}

),

habits as (

    select * from {{ ref('int_customers_measured_for_habits') }}

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

vehicle_strategies as (

    select
        'vehicle_aware' as strategy,
        vehicle_id,
        sku,
        score as vehicle_score

    from ranked

    union all

    select
        strategy,
        vehicle_id,
        sku,
        score as vehicle_score

    from baselines

),

-- each opted-in owner with their activity on the vehicle (int_customer_vehicles_measured_for_
-- activity has one row per owned vehicle), before the expansion
owners as (

    select
        activities.customer_id,
        activities.vehicle_id,
        activities.vehicle_activity as owner_activity,
        activities.project_uplift,
        habits.order_rate,
        -- a product can reach a customer through several vehicles only when they own several
        activities.vehicles_owned

    from activities
    inner join opted_in on activities.customer_id = opted_in.customer_id
    inner join habits on activities.customer_id = habits.customer_id

),

with_activity as (

    select
        vehicle_strategies.strategy,
        owners.customer_id,
        vehicle_strategies.vehicle_id,
        vehicle_strategies.sku,
        vehicle_strategies.vehicle_score,
        owners.vehicles_owned,
        case
            when vehicle_strategies.strategy = 'vehicle_aware'
                then
                    power(owners.owner_activity, {{ var('vehicle_activity_weight') }})
                    * power(owners.order_rate, {{ var('order_rate_weight') }})
                    * power(owners.project_uplift, {{ var('garage_uplift_weight') }})
            else 1.0
        end as customer_weight

    from owners
    inner join vehicle_strategies on owners.vehicle_id = vehicle_strategies.vehicle_id

),

scored as (

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        vehicles_owned,
        case
            when strategy = 'random_eligible'
                then {{ uniform_draw(['customer_id', 'sku', campaign_seed('as_of')]) }}
            else vehicle_score * customer_weight
        end as score

    from with_activity

),

final as (

    select * from scored

)

select * from final
