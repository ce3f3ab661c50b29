{{ config(materialized='table') }}
-- The top N (var candidates_per_customer) eligible products per (strategy, opted-in customer),
-- one row per (strategy, customer, candidate_rank), in three steps over the eligible rows:
--   1. a product reached through several of the customer's vehicles keeps its best-scored
--      vehicle (ties: the smallest vehicle_id);
--   2. at most var max_apparel_candidates apparel products per strategy and customer (the best
--      scored);
--   3. rank by score (random_eligible's score is its seeded draw), then sku, so ranks are
--      contiguous and deterministic, and keep the first N. The engine (vehicle_aware) ranks by
--      its objective instead (macro objective_value, var ranking_objective: the score itself
--      for match, score * price for revenue); the baselines by their own score.
--      Rotation: the engine's rank value (not its score) is multiplied by var rotation_decay ^
--      the number of the customer's recent sends that showed the product without a click
--      (int_customer_products_counted_for_exposure); re-buys (is_replenishment) are exempt.
-- Steps 1 and 2 only find the few rows to drop (repeated products, apparel rows); the bulk of
-- the rows streams once into the ranking of step 3. The eligible rows are read by three
-- import CTEs on purpose: a CTE read by several consumers is buffered whole by DuckDB, and this
-- is the widest relation of the build (a second scan of a table costs seconds).
with

eligible as (

    select * from {{ ref('int_customer_products_filtered_to_eligible') }}

),

eligible_with_several_vehicles as (

    select * from {{ ref('int_customer_products_filtered_to_eligible') }}
    where vehicles_owned > 1

),

eligible_apparel as (

    select * from {{ ref('int_customer_products_filtered_to_eligible') }}
    where department = 'apparel'

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

exposures as (

    select * from {{ ref('int_customer_products_counted_for_exposure') }}

),

-- 1. (strategy, customer, product) keys reached through several vehicles: few, found with one
-- aggregate instead of ranking every row of customers with several vehicles
repeated as (

    select
        strategy,
        customer_id,
        sku

    from eligible_with_several_vehicles
    group by strategy, customer_id, sku
    having count(*) > 1

),

repeated_ranked as (

    select
        eligible_with_several_vehicles.strategy,
        eligible_with_several_vehicles.customer_id,
        eligible_with_several_vehicles.vehicle_id,
        eligible_with_several_vehicles.sku,
        row_number() over (
            partition by
                eligible_with_several_vehicles.strategy,
                eligible_with_several_vehicles.customer_id,
                eligible_with_several_vehicles.sku
            order by
                eligible_with_several_vehicles.score desc,
                eligible_with_several_vehicles.vehicle_id asc
        ) as vehicle_preference

    from eligible_with_several_vehicles
    inner join repeated
        on
            eligible_with_several_vehicles.strategy = repeated.strategy
            and eligible_with_several_vehicles.customer_id = repeated.customer_id
            and eligible_with_several_vehicles.sku = repeated.sku

),

-- every row of a repeated product but the one through its best-scored vehicle
worse_vehicles as (

    select
        strategy,
        customer_id,
        vehicle_id,
        sku

    from repeated_ranked
    where vehicle_preference > 1

),

-- 2. the customer's apparel products, each at its best score (the score step 1 keeps), ranked
-- among apparel only by the value step 3 ranks by (rotation included)
apparel_products as (

    select
        strategy,
        customer_id,
        sku,
        max(score) as score,
        max(case when is_replenishment then 1 else 0 end) as is_replenishment

    from eligible_apparel
    group by strategy, customer_id, sku

),

apparel_valued as (

    select
        apparel_products.strategy,
        apparel_products.customer_id,
        apparel_products.sku,
        case
            when
                apparel_products.strategy = 'vehicle_aware'
                and apparel_products.is_replenishment = 1
                then {{ objective_value('apparel_products.score', 'products.price_usd') }}
            when apparel_products.strategy = 'vehicle_aware'
                then
                    {{ objective_value('apparel_products.score', 'products.price_usd') }}
                    * power({{ var('rotation_decay') }}, coalesce(exposures.exposure_count, 0))
            else apparel_products.score
        end as rank_value

    from apparel_products
    inner join products on apparel_products.sku = products.sku
    left join exposures
        on
            apparel_products.customer_id = exposures.customer_id
            and apparel_products.sku = exposures.sku

),

apparel_ranked as (

    select
        strategy,
        customer_id,
        sku,
        row_number() over (
            partition by strategy, customer_id
            order by rank_value desc, sku asc
        ) as apparel_rank

    from apparel_valued

),

apparel_over_cap as (

    select
        strategy,
        customer_id,
        sku

    from apparel_ranked
    where apparel_rank > {{ var('max_apparel_candidates') }}

),

-- 3. everything else streams into the ranking, valued as the strategy ranks
kept as (

    select
        eligible.*,
        case
            when eligible.strategy = 'vehicle_aware' and eligible.is_replenishment
                then {{ objective_value('eligible.score', 'products.price_usd') }}
            when eligible.strategy = 'vehicle_aware'
                then
                    {{ objective_value('eligible.score', 'products.price_usd') }}
                    * power({{ var('rotation_decay') }}, coalesce(exposures.exposure_count, 0))
            else eligible.score
        end as rank_value

    from eligible
    inner join products on eligible.sku = products.sku
    left join exposures
        on
            eligible.customer_id = exposures.customer_id
            and eligible.sku = exposures.sku
    left join worse_vehicles
        on
            eligible.strategy = worse_vehicles.strategy
            and eligible.customer_id = worse_vehicles.customer_id
            and eligible.vehicle_id = worse_vehicles.vehicle_id
            and eligible.sku = worse_vehicles.sku
    left join apparel_over_cap
        on
            eligible.strategy = apparel_over_cap.strategy
            and eligible.customer_id = apparel_over_cap.customer_id
            and eligible.sku = apparel_over_cap.sku
    where
        worse_vehicles.sku is null
        and apparel_over_cap.sku is null

),

ranked as (

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        score,
        is_replenishment,
        is_fallback,
        months_since_purchase,
        last_clicked_date,
        row_number() over (
            partition by strategy, customer_id
            order by rank_value desc, sku asc
        ) as candidate_rank

    from kept

),

final as (

    select * from ranked
    where candidate_rank <= {{ var('candidates_per_customer') }}

)

select * from final
