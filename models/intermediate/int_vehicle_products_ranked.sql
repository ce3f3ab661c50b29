{{ config(materialized='table') }}
-- The score of each scored (vehicle, product) pair and its rank within the vehicle;
-- only the top var candidates_per_vehicle (M) per vehicle are kept and expanded to owners later.
-- The score is the probability that an owner buys the product within var purchase_horizon_days
-- (H): the smoothed share of owners who bought it in the look-back window, spread over it,
-- times the category's season for the coming H days:
--   score = vehicle_rate * H / lookback_days
--           * season_index ^ season_weight         (int_categories_measured_for_season)
--           * lift ^ lift_weight
--           * breadth_multiplier ^ breadth_weight  (seed breadth_tiers: narrower fits score higher)
--           * price_multiplier ^ price_weight      (seed price_tiers: pricier tiers score higher)
-- Products are ranked within the vehicle by the engine's objective (macro objective_value, var
-- ranking_objective: the score itself for match, score * price for revenue), ties to the part
-- that fits fewer vehicles.
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

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

seasons as (

    select * from {{ ref('int_categories_measured_for_season') }}

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
        products.price_usd,
        coalesce(seasons.season_index, 1.0) as season_index,
        rates.vehicle_rate
        * {{ var('purchase_horizon_days') }} / {{ var('lookback_days') }}
        * power(coalesce(seasons.season_index, 1.0), {{ var('season_weight') }})
        * power(rates.lift, {{ var('lift_weight') }})
        * power(breadth.breadth_multiplier, {{ var('breadth_weight') }})
        * power(price_tiers.price_multiplier, {{ var('price_weight') }}) as score

    from rates
    inner join breadth on rates.sku = breadth.sku
    inner join price_tiers on rates.sku = price_tiers.sku
    inner join products on rates.sku = products.sku
    left join seasons on products.category = seasons.category

),

ranked as (

    select
        *,
        row_number() over (
            partition by vehicle_id
            order by
                {{ objective_value('score', 'price_usd') }} desc,
                fitment_breadth asc,
                sku asc
        ) as vehicle_rank

    from scored

),

final as (

    select * from ranked
    where vehicle_rank <= {{ var('candidates_per_vehicle') }}

)

select * from final
