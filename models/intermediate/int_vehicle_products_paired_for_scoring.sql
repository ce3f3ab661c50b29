{{ config(materialized='table') }}
-- The (vehicle, product) pairs worth scoring, one row each (never every pair).
-- For each owned vehicle: products its own owners bought, plus the top products (by smoothed
-- rate, var parent_candidates_per_group) of its make+model, its make and the whole catalog.
-- Only active products outside gift cards that fit the vehicle (or are universal) are kept, so the
-- per-vehicle ranking is not crowded out by products no customer could be sent.
-- A table, not a view: its unique test and the smoothing model each recomputed the pairing (the
-- test alone took 18.4 s at the l scale, 3.9 s at m).
{% set top_per_group = var('parent_candidates_per_group') %}
with

buyers as (

    select * from {{ ref('int_buyers_counted_to_taxonomy_group_product') }}

),

taxonomy_rates as (

    select * from {{ ref('int_rates_smoothed_to_taxonomy_group_product') }}

),

owners as (

    select * from {{ ref('int_owners_counted_to_taxonomy_group') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

sendable_products as (

    select
        sku,
        is_universal

    from products
    where
        not is_dirty
        and {{ is_sendable_product() }}

),

owned_vehicles as (

    select
        vehicles.vehicle_id,
        vehicles.make_model_key,
        vehicles.make_key

    from vehicles
    inner join owners
        on
            vehicles.vehicle_id = owners.group_key
            and owners.taxonomy_level = 'vehicle'

),

top_parent_products as (

    select
        taxonomy_rates.taxonomy_level,
        taxonomy_rates.group_key,
        taxonomy_rates.sku,
        row_number() over (
            partition by taxonomy_rates.taxonomy_level, taxonomy_rates.group_key
            order by taxonomy_rates.smoothed_rate desc, taxonomy_rates.sku asc
        ) as group_rank

    from taxonomy_rates
    inner join sendable_products on taxonomy_rates.sku = sendable_products.sku

),

vehicle_evidence as (

    select
        group_key as vehicle_id,
        sku

    from buyers
    where taxonomy_level = 'vehicle'

),

make_model_expanded as (

    select
        owned_vehicles.vehicle_id,
        top_parent_products.sku

    from top_parent_products
    inner join owned_vehicles on top_parent_products.group_key = owned_vehicles.make_model_key
    where
        top_parent_products.taxonomy_level = 'make_model'
        and top_parent_products.group_rank <= {{ top_per_group }}

),

make_expanded as (

    select
        owned_vehicles.vehicle_id,
        top_parent_products.sku

    from top_parent_products
    inner join owned_vehicles on top_parent_products.group_key = owned_vehicles.make_key
    where
        top_parent_products.taxonomy_level = 'make'
        and top_parent_products.group_rank <= {{ top_per_group }}

),

catalog_expanded as (

    select
        owned_vehicles.vehicle_id,
        top_parent_products.sku

    from top_parent_products
    cross join owned_vehicles
    where
        top_parent_products.taxonomy_level = 'all'
        and top_parent_products.group_rank <= {{ top_per_group }}

),

all_pairs as (

    select
        vehicle_id,
        sku

    from vehicle_evidence

    union distinct

    select
        vehicle_id,
        sku

    from make_model_expanded

    union distinct

    select
        vehicle_id,
        sku

    from make_expanded

    union distinct

    select
        vehicle_id,
        sku

    from catalog_expanded

),

fitting_pairs as (

    select
        all_pairs.vehicle_id,
        all_pairs.sku,
        sendable_products.is_universal

    from all_pairs
    inner join owned_vehicles on all_pairs.vehicle_id = owned_vehicles.vehicle_id
    inner join sendable_products on all_pairs.sku = sendable_products.sku
    left join fitment
        on
            all_pairs.vehicle_id = fitment.vehicle_id
            and all_pairs.sku = fitment.sku
    where
        sendable_products.is_universal
        or fitment.sku is not null

),

final as (

    select * from fitting_pairs

)

select * from final
