-- Attributed buyers per (taxonomy group, product): weighted buyers (a buyer's attribution
-- weights within the group, capped at 1 so a repeat buyer counts once) and distinct buyers.
with

attributed as (

    select * from {{ ref('int_purchases_attributed_to_vehicle') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

attributed_keyed as (

    select
        attributed.customer_id,
        attributed.sku,
        attributed.weight,
        vehicles.vehicle_id,
        vehicles.make_model_key,
        vehicles.make_key

    from attributed
    inner join vehicles on attributed.vehicle_id = vehicles.vehicle_id

),

buyer_groups as (

    select
        'vehicle' as taxonomy_level,
        vehicle_id as group_key,
        sku,
        customer_id,
        sum(weight) as weight

    from attributed_keyed
    group by vehicle_id, sku, customer_id

    union all

    select
        'make_model' as taxonomy_level,
        make_model_key as group_key,
        sku,
        customer_id,
        sum(weight) as weight

    from attributed_keyed
    group by make_model_key, sku, customer_id

    union all

    select
        'make' as taxonomy_level,
        make_key as group_key,
        sku,
        customer_id,
        sum(weight) as weight

    from attributed_keyed
    group by make_key, sku, customer_id

    union all

    select
        'all' as taxonomy_level,
        'all' as group_key,
        sku,
        customer_id,
        sum(weight) as weight

    from attributed_keyed
    group by sku, customer_id

),

final as (

    select
        taxonomy_level,
        group_key,
        sku,
        sum(least(weight, 1.0)) as weighted_buyers,
        count(*) as buyer_count

    from buyer_groups
    group by taxonomy_level, group_key, sku

)

select * from final
