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
-- New arrivals (int_vehicle_products_scored_for_new_arrival, empty when var new_arrival_weight
-- is 0): a product created in the var new_arrival_days days before as_of that fits the vehicle
-- scores the larger of its own score and its category's prior for the vehicle (prior_rate in
-- place of vehicle_rate, without lift); a pair the scoring never paired is added with no own
-- evidence. is_new_arrival_prior marks the rows whose score the prior set.
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

new_arrivals as (

    select * from {{ ref('int_vehicle_products_scored_for_new_arrival') }}

),

-- the scored pairs with an arrival's prior, plus the arrivals' pairs the scoring never paired
rates_with_arrivals as (

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
        new_arrivals.prior_rate

    from rates
    left join new_arrivals
        on
            rates.vehicle_id = new_arrivals.vehicle_id
            and rates.sku = new_arrivals.sku

    union all

    select
        new_arrivals.vehicle_id,
        new_arrivals.sku,
        0.0 as weighted_buyers,
        0 as buyer_count,
        new_arrivals.owner_count,
        0 as make_model_buyer_count,
        0 as make_model_owner_count,
        0 as make_buyer_count,
        0 as make_owner_count,
        0.0 as raw_rate,
        0.0 as parent_rate,
        0.0 as vehicle_rate,
        0.0 as catalog_rate,
        0.0 as lift,
        new_arrivals.prior_rate

    from new_arrivals
    left join rates
        on
            new_arrivals.vehicle_id = rates.vehicle_id
            and new_arrivals.sku = rates.sku
    where rates.sku is null

),

factored as (

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
        rates.prior_rate,
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
        * power(price_tiers.price_multiplier, {{ var('price_weight') }}) as own_score,
        coalesce(rates.prior_rate, 0)
        * {{ var('purchase_horizon_days') }} / {{ var('lookback_days') }}
        * power(coalesce(seasons.season_index, 1.0), {{ var('season_weight') }})
        * power(breadth.breadth_multiplier, {{ var('breadth_weight') }})
        * power(price_tiers.price_multiplier, {{ var('price_weight') }}) as prior_score

    from rates_with_arrivals as rates
    inner join breadth on rates.sku = breadth.sku
    inner join price_tiers on rates.sku = price_tiers.sku
    inner join products on rates.sku = products.sku
    left join seasons on products.category = seasons.category

),

scored as (

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
        lift,
        fitment_breadth,
        breadth_tier,
        price_tier,
        price_usd,
        season_index,
        prior_rate as new_arrival_prior_rate,
        coalesce(prior_score > own_score, false) as is_new_arrival_prior,
        case when prior_score > own_score then prior_score else own_score end as score

    from factored

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
