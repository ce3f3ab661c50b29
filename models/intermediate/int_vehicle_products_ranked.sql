{{ config(materialized='table') }}
-- The score of each scored (vehicle, product) pair and its rank within the vehicle;
-- only the top var candidates_per_vehicle (M) per vehicle are kept and expanded to owners later.
--   score = vehicle_rate
--           * lift ^ lift_weight
--           * breadth_multiplier ^ breadth_weight  (seed breadth_tiers: narrower fits score higher)
--           * price_multiplier ^ price_weight      (seed price_tiers: pricier tiers score higher)
with

rates as (

    select * from {{ ref('int_vehicle_product_rates_smoothed') }}

),

breadth as (

    select * from {{ ref('int_products_measured_for_breadth') }}

),

price_tiers as (

    select * from {{ ref('int_products_tiered_by_price') }}

),

scored as (

    select
        rates.vehicle_id,
        rates.sku,
        rates.weighted_buyers,
        rates.buyer_count,
        rates.owner_count,
        rates.make_model_buyer_count,
        rates.make_model_owner_count,
        rates.make_buyer_count,
        rates.make_owner_count,
        rates.raw_rate,
        rates.parent_rate,
        rates.vehicle_rate,
        rates.catalog_rate,
        rates.lift,
        breadth.fitment_breadth,
        breadth.breadth_tier,
        price_tiers.price_tier,
        rates.vehicle_rate
        * power(rates.lift, {{ var('lift_weight') }})
        * power(breadth.breadth_multiplier, {{ var('breadth_weight') }})
        * power(price_tiers.price_multiplier, {{ var('price_weight') }}) as score

    from rates
    inner join breadth on rates.sku = breadth.sku
    inner join price_tiers on rates.sku = price_tiers.sku

),

ranked as (

    select
        *,
        row_number() over (
            partition by vehicle_id
            order by score desc, sku asc
        ) as vehicle_rank

    from scored

),

final as (

    select * from ranked
    where vehicle_rank <= {{ var('candidates_per_vehicle') }}

)

select * from final
