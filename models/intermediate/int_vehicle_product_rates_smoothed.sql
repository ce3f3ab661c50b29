{{ config(materialized='table') }}
-- Vehicle-owner purchase rates with taxonomy backoff, one row per scored
-- (vehicle, product) pair. Raw rate = weighted attributed buyers / owners of the vehicle. The
-- smoothed rate shrinks it toward its parents, recursively:
--   rate(group) = (weighted_buyers(group) + k * rate(parent)) / (owners(group) + k)
-- along year+make+model -> make+model -> make -> all, k = var backoff_prior_strength; a group with
-- no buyer of the product has weighted_buyers 0, so a rare vehicle inherits its family's rate.
-- Lift = smoothed vehicle rate / catalog rate.
-- A table, not a view: its unique test recomputed the smoothing over every pair (10.3 s at the
-- l scale) before int_vehicle_products_ranked computed it again.
{% set prior_strength = var('backoff_prior_strength') %}
with

pairs as (

    select * from {{ ref('int_vehicle_products_paired_for_scoring') }}

),

buyers as (

    select * from {{ ref('int_buyers_counted_to_taxonomy_group_product') }}

),

owners as (

    select * from {{ ref('int_owners_counted_to_taxonomy_group') }}

),

taxonomy_rates as (

    select * from {{ ref('int_rates_smoothed_to_taxonomy_group_product') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

vehicle_buyers as (

    select
        group_key as vehicle_id,
        sku,
        weighted_buyers,
        buyer_count

    from buyers
    where taxonomy_level = 'vehicle'

),

vehicle_owners as (

    select
        group_key as vehicle_id,
        owner_count

    from owners
    where taxonomy_level = 'vehicle'

),

make_model_owners as (

    select
        group_key as make_model_key,
        owner_count

    from owners
    where taxonomy_level = 'make_model'

),

make_owners as (

    select
        group_key as make_key,
        owner_count

    from owners
    where taxonomy_level = 'make'

),

make_model_rates as (

    select
        group_key as make_model_key,
        sku,
        buyer_count,
        smoothed_rate

    from taxonomy_rates
    where taxonomy_level = 'make_model'

),

make_rates as (

    select
        group_key as make_key,
        sku,
        buyer_count,
        smoothed_rate

    from taxonomy_rates
    where taxonomy_level = 'make'

),

catalog_rates as (

    select
        sku,
        smoothed_rate

    from taxonomy_rates
    where taxonomy_level = 'all'

),

joined as (

    select
        pairs.vehicle_id,
        pairs.sku,
        vehicles.make_model_key,
        vehicles.make_key,
        make_model_rates.smoothed_rate as make_model_rate,
        make_rates.smoothed_rate as make_rate,
        coalesce(vehicle_buyers.weighted_buyers, 0) as weighted_buyers,
        coalesce(vehicle_buyers.buyer_count, 0) as buyer_count,
        coalesce(vehicle_owners.owner_count, 0) as owner_count,
        coalesce(make_model_rates.buyer_count, 0) as make_model_buyer_count,
        coalesce(make_model_owners.owner_count, 0) as make_model_owner_count,
        coalesce(make_rates.buyer_count, 0) as make_buyer_count,
        coalesce(make_owners.owner_count, 0) as make_owner_count,
        coalesce(catalog_rates.smoothed_rate, 0) as catalog_rate

    from pairs
    inner join vehicles on pairs.vehicle_id = vehicles.vehicle_id
    left join vehicle_buyers
        on
            pairs.vehicle_id = vehicle_buyers.vehicle_id
            and pairs.sku = vehicle_buyers.sku
    left join vehicle_owners on pairs.vehicle_id = vehicle_owners.vehicle_id
    left join make_model_owners on vehicles.make_model_key = make_model_owners.make_model_key
    left join make_owners on vehicles.make_key = make_owners.make_key
    left join make_model_rates
        on
            vehicles.make_model_key = make_model_rates.make_model_key
            and pairs.sku = make_model_rates.sku
    left join make_rates
        on
            vehicles.make_key = make_rates.make_key
            and pairs.sku = make_rates.sku
    left join catalog_rates on pairs.sku = catalog_rates.sku

),

-- a parent group where nobody bought the product still shrinks toward its own parent
backed_off_make as (

    select
        *,
        coalesce(
            make_rate,
            {{ prior_strength }} * catalog_rate / (make_owner_count + {{ prior_strength }})
        ) as effective_make_rate

    from joined

),

backed_off_make_model as (

    select
        *,
        coalesce(
            make_model_rate,
            {{ prior_strength }} * effective_make_rate
            / (make_model_owner_count + {{ prior_strength }})
        ) as effective_make_model_rate

    from backed_off_make

),

smoothed as (

    select
        vehicle_id,
        sku,
        weighted_buyers,
        buyer_count,
        owner_count,
        make_model_buyer_count,
        make_model_owner_count,
        make_buyer_count,
        make_owner_count,
        catalog_rate,
        effective_make_model_rate as parent_rate,
        case
            when owner_count > 0 then weighted_buyers / owner_count
            else 0
        end as raw_rate,
        (weighted_buyers + {{ prior_strength }} * effective_make_model_rate)
        / (owner_count + {{ prior_strength }}) as vehicle_rate

    from backed_off_make_model

),

final as (

    select
        vehicle_id,
        sku,
        weighted_buyers,
        buyer_count,
        owner_count,
        make_model_buyer_count,
        make_model_owner_count,
        make_buyer_count,
        make_owner_count,
        raw_rate,
        parent_rate,
        vehicle_rate,
        catalog_rate,
        case
            when catalog_rate > 0 then vehicle_rate / catalog_rate
            else 0
        end as lift

    from smoothed

)

select * from final
