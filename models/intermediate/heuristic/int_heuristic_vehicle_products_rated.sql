{{ config(materialized='table') }}
-- The heuristic's vehicle rates, one row per (owned vehicle, sendable product that fits it or is
-- universal, bought by at least one of its owners in the look-back, var lookback_days):
--   owner_rate   = distinct attributed buyers among the vehicle's owners / its owners (raw: no
--                  taxonomy smoothing);
--   horizon_rate = least(1, owner_rate * var heuristic_horizon_days / var lookback_days), the
--                  share of owners expected to buy it within the horizon (a probability on the
--                  re-buy hazard's scale);
--   vehicle_rank = rank by horizon_rate within the vehicle (ties: sku); the heuristic's new
--                  items are each vehicle's top var heuristic_candidates_per_vehicle.
-- Empty unless heuristic is in var baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
with

buyers as (

    select * from {{ ref('int_buyers_counted_to_taxonomy_group_product') }}

),

owners as (

    select * from {{ ref('int_owners_counted_to_taxonomy_group') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

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

vehicle_buyers as (

    select
        buyers.group_key as vehicle_id,
        buyers.sku,
        buyers.buyer_count

    from buyers
    inner join sendable_products on buyers.sku = sendable_products.sku
    left join fitment
        on
            buyers.group_key = fitment.vehicle_id
            and buyers.sku = fitment.sku
    where
        buyers.taxonomy_level = 'vehicle'
        and (sendable_products.is_universal or fitment.sku is not null)

),

rated as (

    select
        vehicle_buyers.vehicle_id,
        vehicle_buyers.sku,
        vehicle_buyers.buyer_count,
        owners.owner_count,
        cast(vehicle_buyers.buyer_count as {{ type_float64() }}) / owners.owner_count
            as owner_rate

    from vehicle_buyers
    inner join owners
        on
            vehicle_buyers.vehicle_id = owners.group_key
            and owners.taxonomy_level = 'vehicle'

),

ranked as (

    select
        vehicle_id,
        sku,
        buyer_count,
        owner_count,
        owner_rate,
        least(
            owner_rate * {{ var('heuristic_horizon_days') }} / {{ var('lookback_days') }}, 1.0
        ) as horizon_rate,
        row_number() over (
            partition by vehicle_id
            order by owner_rate desc, sku asc
        ) as vehicle_rank

    from rated

),

final as (

    select * from ranked
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
