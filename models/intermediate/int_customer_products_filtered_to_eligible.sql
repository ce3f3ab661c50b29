{{ config(materialized='table') }}
-- Eligibility, one row per (strategy, opted-in customer, vehicle, product) that may be sent,
-- written once for every strategy:
--   * the product is clean, active and not a gift card;
--   * the customer never bought any member of its variant family, unless it is a re-buy of that
--     exact SKU (int_customer_products_scored_for_rebuy: every product the customer bought,
--     with the probability they buy it again within the horizon).
-- Fit is settled upstream: every per-vehicle ranking keeps only products that fit the vehicle
-- or are universal, and a re-buy keeps a vehicle of the customer's it fits (the guardrail test
-- assert_candidates_fit_a_customer_vehicle checks the result).
-- A product reached through several of the customer's vehicles has a row per vehicle here; the
-- ranking (int_customer_products_ranked_by_strategy) keeps its best-scored vehicle and applies
-- the apparel cap. No window function here: this model only filters and appends, so the widest
-- relation of the build streams once, and the rows stay narrow (keys, score, department).
-- The engine's strategy (vehicle_aware) also gets the customer's re-buys and, for customers
-- without a vehicle, the documented fallback (int_customer_products_chosen_as_fallback); its
-- new items are weighted by the customer's taste for their category:
--   score *= category_taste ^ var category_taste_weight
-- (int_customer_categories_measured_for_taste; a category the customer never bought gets
-- int_customers_measured_for_habits.unbought_category_taste).
-- Click intent (int_customer_families_scored_for_click_intent, empty when var
-- click_intent_weight is 0): the last-clicked SKU of a family the customer clicked and never
-- bought keeps the larger of its own score and the click-intent score where it is already a
-- vehicle candidate (every vehicle's row), and is added through the smallest vehicle of the
-- customer's it fits (no vehicle: universal) where it is not; last_clicked_date is set on the
-- rows the click decides (the reason quotes it). Customers without a vehicle keep the fallback.
with

expanded as (

    select * from {{ ref('int_customer_products_expanded_from_vehicles') }}

),

rebuys as (

    select * from {{ ref('int_customer_products_scored_for_rebuy') }}

),

tastes as (

    select * from {{ ref('int_customer_categories_measured_for_taste') }}

),

habits as (

    select * from {{ ref('int_customers_measured_for_habits') }}

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

click_intents as (

    select * from {{ ref('int_customer_families_scored_for_click_intent') }}

),

-- the engine's per-vehicle lists, whose expansion to owners is the affinity pool
vehicle_pool as (

    select * from {{ ref('int_vehicle_products_ranked') }}

),

sendable_products as (

    select
        products.sku,
        products.department,
        products.category,
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
        sendable_products.category,
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

affinity as (

    select
        affinity_not_bought.strategy,
        affinity_not_bought.customer_id,
        affinity_not_bought.vehicle_id,
        affinity_not_bought.sku,
        affinity_not_bought.department,
        case
            when affinity_not_bought.strategy = 'vehicle_aware'
                then affinity_not_bought.score * power(
                    coalesce(tastes.category_taste, habits.unbought_category_taste, 1.0),
                    {{ var('category_taste_weight') }}
                )
            else affinity_not_bought.score
        end as score,
        affinity_not_bought.vehicles_owned,
        false as is_replenishment,
        false as is_fallback,
        cast(null as {{ dbt.type_bigint() }}) as months_since_purchase

    from affinity_not_bought
    left join habits on affinity_not_bought.customer_id = habits.customer_id
    left join tastes
        on
            affinity_not_bought.customer_id = tastes.customer_id
            and affinity_not_bought.category = tastes.category

),

-- the engine's affinity rows of a clicked SKU keep the larger score (the click dates it)
affinity_with_clicks as (

    select
        affinity.strategy,
        affinity.customer_id,
        affinity.vehicle_id,
        affinity.sku,
        affinity.department,
        case
            when click_intents.score > affinity.score then click_intents.score
            else affinity.score
        end as score,
        affinity.vehicles_owned,
        affinity.is_replenishment,
        affinity.is_fallback,
        affinity.months_since_purchase,
        case
            when click_intents.score > affinity.score then click_intents.last_clicked_date
        end as last_clicked_date

    from affinity
    left join click_intents
        on
            affinity.strategy = 'vehicle_aware'
            and affinity.customer_id = click_intents.customer_id
            and affinity.sku = click_intents.sku

),

-- a clicked SKU against every vehicle of the customer's: whether it fits that vehicle and
-- whether it is on that vehicle's list (then it already is an affinity row of the customer's)
clicked_vehicles as (

    select
        click_intents.customer_id,
        click_intents.sku,
        owned.vehicle_id,
        fitment.vehicle_id as fitting_vehicle_id,
        vehicle_pool.sku as pooled_sku

    from click_intents
    inner join owned on click_intents.customer_id = owned.customer_id
    left join fitment
        on
            click_intents.sku = fitment.sku
            and owned.vehicle_id = fitment.vehicle_id
    left join vehicle_pool
        on
            owned.vehicle_id = vehicle_pool.vehicle_id
            and click_intents.sku = vehicle_pool.sku

),

clicked_skus as (

    select
        customer_id,
        sku,
        min(fitting_vehicle_id) as vehicle_id,
        max(case when pooled_sku is not null then 1 else 0 end) as is_pooled

    from clicked_vehicles
    group by customer_id, sku

),

-- clicked SKUs on no list of the customer's vehicles: added when sendable and fitting one of
-- them (or universal); customers without a vehicle have no row in clicked_skus
click_intent as (

    select
        'vehicle_aware' as strategy,
        click_intents.customer_id,
        clicked_skus.vehicle_id,
        click_intents.sku,
        sendable_products.department,
        click_intents.score,
        1 as vehicles_owned,
        false as is_replenishment,
        false as is_fallback,
        cast(null as {{ dbt.type_bigint() }}) as months_since_purchase,
        click_intents.last_clicked_date

    from click_intents
    inner join sendable_products on click_intents.sku = sendable_products.sku
    inner join clicked_skus
        on
            click_intents.customer_id = clicked_skus.customer_id
            and click_intents.sku = clicked_skus.sku
    where
        clicked_skus.is_pooled = 0
        and (sendable_products.is_universal or clicked_skus.vehicle_id is not null)

),

-- a re-buy must still fit one of the customer's vehicles (or be universal: no vehicle)
replenishment_vehicles as (

    select
        rebuys.customer_id,
        rebuys.sku,
        min(fitment.vehicle_id) as vehicle_id

    from rebuys
    inner join owned on rebuys.customer_id = owned.customer_id
    inner join fitment
        on
            rebuys.sku = fitment.sku
            and owned.vehicle_id = fitment.vehicle_id
    group by rebuys.customer_id, rebuys.sku

),

replenishment as (

    select
        'vehicle_aware' as strategy,
        rebuys.customer_id,
        replenishment_vehicles.vehicle_id,
        rebuys.sku,
        sendable_products.department,
        rebuys.score,
        1 as vehicles_owned,
        true as is_replenishment,
        false as is_fallback,
        rebuys.months_since_purchase,
        cast(null as date) as last_clicked_date

    from rebuys
    inner join opted_in on rebuys.customer_id = opted_in.customer_id
    inner join sendable_products on rebuys.sku = sendable_products.sku
    left join replenishment_vehicles
        on
            rebuys.customer_id = replenishment_vehicles.customer_id
            and rebuys.sku = replenishment_vehicles.sku
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
        department,
        score,
        1 as vehicles_owned,
        false as is_replenishment,
        true as is_fallback,
        cast(null as {{ dbt.type_bigint() }}) as months_since_purchase,
        cast(null as date) as last_clicked_date

    from fallback

),

combined as (

    select * from affinity_with_clicks

    union all

    select * from click_intent

    union all

    select * from replenishment

    union all

    select * from fallback_popular

),

final as (

    select * from combined

)

select * from final
