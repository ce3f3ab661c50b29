{{ config(materialized='table') }}
-- The heuristic's new items, one row per (opted-in customer with a vehicle, product): the top
-- var heuristic_candidates_per_vehicle products of each of the customer's vehicles
-- (int_heuristic_vehicle_products_rated: sendable, fitting or universal), minus variant
-- families the customer already bought, each with
--   new_probability = least(1, vehicle_mix * taste(customer, category))
--   vehicle_mix     = sum over the customer's vehicles v of
--                     w(c, v) * horizon_rate(v, product) * order_rate(c) * season(category)
-- where w(c, v) = the customer's share of attributed purchases for v (vehicle_activity /
-- vehicles owned, int_customer_vehicles_measured_for_activity; it sums to 1 over the
-- vehicles), order_rate and the taste of a category never bought from come from
-- int_heuristic_customer_signals, the others' taste from int_heuristic_customer_category_tastes,
-- season from int_heuristic_category_seasons (1 for a category without history).
-- The sum runs over the customer's vehicles that rank the product in their top N (exact whenever
-- N covers every product a vehicle's owners bought; an exact sum over all vehicles would join
-- every candidate to every vehicle of its customer, the widest step at scale); vehicle_id is
-- the smallest id among the vehicles that rank it. This is the widest relation of the
-- heuristic (owners x N): the customer's and the product's factors are multiplied once per
-- (customer, vehicle) and per (vehicle, product) before it, so its rows carry keys and one
-- number, and one-vehicle customers skip the aggregate. Empty unless heuristic is in var
-- baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
with

rated as (

    select * from {{ ref('int_heuristic_vehicle_products_rated') }}

),

activities as (

    select * from {{ ref('int_customer_vehicles_measured_for_activity') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

purchased_families as (

    select * from {{ ref('int_customer_families_purchased') }}

),

signals as (

    select * from {{ ref('int_heuristic_customer_signals') }}

),

tastes as (

    select * from {{ ref('int_heuristic_customer_category_tastes') }}

),

seasons as (

    select * from {{ ref('int_heuristic_category_seasons') }}

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

-- per (opted-in customer, vehicle): everything of the score that is the customer's own but
-- taste, so the per-product rows below carry one number and keys
owners as (

    select
        activities.customer_id,
        activities.vehicle_id,
        activities.vehicles_owned,
        signals.unseen_category_taste,
        activities.vehicle_activity / activities.vehicles_owned * signals.order_rate
            as owner_factor

    from activities
    inner join opted_in on activities.customer_id = opted_in.customer_id
    inner join signals on activities.customer_id = signals.customer_id

),

-- per (vehicle, product of its top N): everything of the score that is the product's
top_products as (

    select
        rated.vehicle_id,
        rated.sku,
        rated.horizon_rate * coalesce(seasons.season, 1.0) as seasonal_rate

    from rated
    inner join products on rated.sku = products.sku
    left join seasons on products.category = seasons.category
    where rated.vehicle_rank <= {{ var('heuristic_candidates_per_vehicle') }}

),

single_vehicle as (

    select
        owners.customer_id,
        owners.vehicle_id,
        top_products.sku,
        owners.unseen_category_taste,
        owners.owner_factor * top_products.seasonal_rate as vehicle_mix

    from owners
    inner join top_products on owners.vehicle_id = top_products.vehicle_id
    where owners.vehicles_owned = 1

),

several_vehicles as (

    select
        owners.customer_id,
        owners.vehicle_id,
        top_products.sku,
        owners.unseen_category_taste,
        owners.owner_factor * top_products.seasonal_rate as term

    from owners
    inner join top_products on owners.vehicle_id = top_products.vehicle_id
    where owners.vehicles_owned > 1

),

-- one plain aggregate: no sort, and no per-key list, of these rows (a window or an arg-max over
-- them spills or runs out of memory at scale); vehicle_id is the smallest of the vehicles that
-- rank the product (almost always the only one)
several_mixed as (

    select
        customer_id,
        sku,
        unseen_category_taste,
        min(vehicle_id) as vehicle_id,
        sum(term) as vehicle_mix

    from several_vehicles
    group by customer_id, sku, unseen_category_taste

),

mixed as (

    select
        customer_id,
        vehicle_id,
        sku,
        unseen_category_taste,
        vehicle_mix

    from single_vehicle

    union all

    select
        customer_id,
        vehicle_id,
        sku,
        unseen_category_taste,
        vehicle_mix

    from several_mixed

),

product_keys as (

    select
        products.sku,
        products.category,
        products.department,
        families.family_id

    from products
    inner join families on products.sku = families.sku

),

not_bought as (

    select
        mixed.customer_id,
        mixed.vehicle_id,
        mixed.sku,
        product_keys.category,
        product_keys.department,
        mixed.unseen_category_taste,
        mixed.vehicle_mix

    from mixed
    inner join product_keys on mixed.sku = product_keys.sku
    left join purchased_families
        on
            mixed.customer_id = purchased_families.customer_id
            and product_keys.family_id = purchased_families.family_id
    where purchased_families.family_id is null

),

scored as (

    select
        not_bought.customer_id,
        not_bought.vehicle_id,
        not_bought.sku,
        not_bought.department,
        least(
            not_bought.vehicle_mix
            * coalesce(tastes.taste, not_bought.unseen_category_taste),
            1.0
        ) as new_probability

    from not_bought
    left join tastes
        on
            not_bought.customer_id = tastes.customer_id
            and not_bought.category = tastes.category

),

final as (

    select * from scored
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
