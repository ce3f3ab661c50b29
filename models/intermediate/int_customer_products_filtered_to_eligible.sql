{{ config(materialized='table') }}
-- Eligibility, one row per (strategy, opted-in customer, product) that may be sent, written once
-- for every strategy:
--   * the product is clean, active and not a gift card;
--   * the customer never bought any member of its variant family, unless it is a due re-buy of
--     a replenishable product (those come from int_customer_replenishments_flagged_due);
--   * at most var max_apparel_candidates apparel products per strategy and customer (the best
--     scored).
-- Fit is settled upstream: every per-vehicle ranking keeps only products that fit the vehicle
-- or are universal, and a re-buy keeps a vehicle of the customer's it fits (the guardrail test
-- assert_candidates_fit_a_customer_vehicle checks the result).
-- A product reached through several of the customer's vehicles keeps its best-scored vehicle.
-- The engine's strategy (vehicle_aware) also gets the customer's due re-buys and, for customers
-- without a vehicle, the documented fallback (int_customer_products_chosen_as_fallback).
with

expanded as (

    select * from {{ ref('int_customer_products_expanded_from_vehicles') }}

),

replenishments as (

    select * from {{ ref('int_customer_replenishments_flagged_due') }}

),

fallback as (

    select * from {{ ref('int_customer_products_chosen_as_fallback') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

purchased_families as (

    select * from {{ ref('int_customer_families_purchased') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

sendable_products as (

    select
        products.sku,
        products.department,
        products.is_universal,
        families.family_id

    from products
    inner join families on products.sku = families.sku
    where
        not products.is_dirty
        and {{ is_sendable_product('products') }}

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

affinity_sendable as (

    select
        expanded.strategy,
        expanded.customer_id,
        expanded.vehicle_id,
        expanded.sku,
        sendable_products.family_id,
        sendable_products.department,
        expanded.score,
        expanded.vehicles_owned

    from expanded
    inner join sendable_products on expanded.sku = sendable_products.sku

),

affinity_not_bought as (

    select affinity_sendable.*
    from affinity_sendable
    left join purchased_families
        on
            affinity_sendable.customer_id = purchased_families.customer_id
            and affinity_sendable.family_id = purchased_families.family_id
    where purchased_families.family_id is null

),

-- a product reached through several of the customer's vehicles keeps its best-scored vehicle
-- (ties: the smallest vehicle_id). Only customers with several vehicles can have such repeats,
-- so only their rows go through the dedupe (aggregates, not a window over tiny partitions).
single_vehicle as (

    select * from affinity_not_bought
    where vehicles_owned = 1

),

several_vehicles as (

    select * from affinity_not_bought
    where vehicles_owned > 1

),

best_scores as (

    select
        strategy,
        customer_id,
        sku,
        max(score) as best_score

    from several_vehicles
    group by strategy, customer_id, sku

),

best_vehicles as (

    select
        several_vehicles.strategy,
        several_vehicles.customer_id,
        several_vehicles.sku,
        min(several_vehicles.vehicle_id) as vehicle_id

    from several_vehicles
    inner join best_scores
        on
            several_vehicles.strategy = best_scores.strategy
            and several_vehicles.customer_id = best_scores.customer_id
            and several_vehicles.sku = best_scores.sku
            and several_vehicles.score = best_scores.best_score
    group by
        several_vehicles.strategy,
        several_vehicles.customer_id,
        several_vehicles.sku

),

deduplicated as (

    select * from single_vehicle

    union all

    select several_vehicles.*
    from several_vehicles
    inner join best_vehicles
        on
            several_vehicles.strategy = best_vehicles.strategy
            and several_vehicles.customer_id = best_vehicles.customer_id
            and several_vehicles.sku = best_vehicles.sku
            and several_vehicles.vehicle_id = best_vehicles.vehicle_id

),

affinity as (

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        family_id,
        department,
        score,
        false as is_replenishment,
        false as is_fallback,
        cast(null as {{ dbt.type_bigint() }}) as months_since_purchase,
        -- random_eligible orders each customer's pool by a seeded hash of (customer, product):
        -- a campaign changes the draw by changing var random_seed
        case
            when strategy = 'random_eligible'
                then {{ dbt.hash(dbt.concat([
                    'customer_id', "'|'", 'sku', "'|'", "'" ~ var('random_seed') ~ "'"
                ])) }}
            else ''
        end as draw_key

    from deduplicated

),

-- a due re-buy must still fit one of the customer's vehicles (or be universal: no vehicle)
replenishment_vehicles as (

    select
        replenishments.customer_id,
        replenishments.sku,
        min(fitment.vehicle_id) as vehicle_id

    from replenishments
    inner join owned on replenishments.customer_id = owned.customer_id
    inner join fitment
        on
            replenishments.sku = fitment.sku
            and owned.vehicle_id = fitment.vehicle_id
    group by replenishments.customer_id, replenishments.sku

),

replenishment as (

    select
        'vehicle_aware' as strategy,
        replenishments.customer_id,
        replenishment_vehicles.vehicle_id,
        replenishments.sku,
        sendable_products.family_id,
        sendable_products.department,
        replenishments.score,
        true as is_replenishment,
        false as is_fallback,
        replenishments.months_since_purchase,
        '' as draw_key

    from replenishments
    inner join opted_in on replenishments.customer_id = opted_in.customer_id
    inner join sendable_products on replenishments.sku = sendable_products.sku
    left join replenishment_vehicles
        on
            replenishments.customer_id = replenishment_vehicles.customer_id
            and replenishments.sku = replenishment_vehicles.sku
    where
        sendable_products.is_universal
        or replenishment_vehicles.vehicle_id is not null

),

fallback_popular as (

    select
        'vehicle_aware' as strategy,
        customer_id,
        cast(null as {{ dbt.type_string() }}) as vehicle_id,
        sku,
        family_id,
        department,
        score,
        false as is_replenishment,
        true as is_fallback,
        cast(null as {{ dbt.type_bigint() }}) as months_since_purchase,
        '' as draw_key

    from fallback

),

combined as (

    select * from affinity

    union all

    select * from replenishment

    union all

    select * from fallback_popular

),

-- the apparel cap needs a rank among the customer's apparel rows only (few rows to sort)
apparel_ranked as (

    select
        *,
        row_number() over (
            partition by strategy, customer_id
            order by score desc, draw_key asc, sku asc
        ) as apparel_rank

    from combined
    where department = 'apparel'

),

capped as (

    select * from combined
    where department != 'apparel'

    union all

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        family_id,
        department,
        score,
        is_replenishment,
        is_fallback,
        months_since_purchase,
        draw_key

    from apparel_ranked
    where apparel_rank <= {{ var('max_apparel_candidates') }}

),

final as (

    select * from capped

)

select * from final
