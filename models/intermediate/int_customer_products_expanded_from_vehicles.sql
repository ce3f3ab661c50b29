-- Every strategy's candidate pool before eligibility, one row per (strategy, opted-in customer,
-- owned vehicle, product): each vehicle's top products under each strategy, expanded to the
-- vehicle's opted-in owners (rank per vehicle first, then expand only those, so the
-- per-customer stage stays small). Strategies are rows, not copies of this chain:
--   vehicle_aware : this engine (int_vehicle_products_ranked, top var candidates_per_vehicle);
--                   score = vehicle_score * vehicle_activity ^ var vehicle_activity_weight, so a
--                   vehicle the customer once bought a part for (e.g. a friend's) ranks below the
--                   one they keep buying for (int_customer_vehicles_measured_for_activity);
--   baselines     : the strategies of int_vehicle_products_ranked_for_baselines (top var
--                   baseline_candidates_per_vehicle), their own score, no activity weighting.
-- Only keys and the score travel per customer (this is the widest relation of the build); the
-- vehicle-level components behind a score (rate, lift, buyer counts) are joined back in the mart
-- on (vehicle_id, sku) for the few rows that reach it.
with

ranked as (

    select * from {{ ref('int_vehicle_products_ranked') }}

),

baselines as (

    select * from {{ ref('int_vehicle_products_ranked_for_baselines') }}

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

expanded as (

    select
        vehicle_strategies.strategy,
        owned.customer_id,
        vehicle_strategies.vehicle_id,
        vehicle_strategies.sku,
        vehicle_strategies.vehicle_score

    from owned
    inner join opted_in on owned.customer_id = opted_in.customer_id
    inner join vehicle_strategies on owned.vehicle_id = vehicle_strategies.vehicle_id

),

with_activity as (

    select
        expanded.*,
        case
            when expanded.strategy = 'vehicle_aware'
                then coalesce(activities.vehicle_activity, 1.0)
            else 1.0
        end as vehicle_activity,
        -- a product can reach a customer through several vehicles only when they own several
        coalesce(activities.vehicles_owned, 1) as vehicles_owned

    from expanded
    left join activities
        on
            expanded.customer_id = activities.customer_id
            and expanded.vehicle_id = activities.vehicle_id

),

scored as (

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        vehicle_score,
        vehicle_activity,
        vehicles_owned,
        vehicle_score
        * power(vehicle_activity, {{ var('vehicle_activity_weight') }}) as score

    from with_activity

),

final as (

    select * from scored

)

select * from final
