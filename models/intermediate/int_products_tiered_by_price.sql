-- Price tiers: each clean product's tier from seed price_tiers (lower bound inclusive,
-- upper bound exclusive, an empty upper bound is open).
with

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

price_tiers as (

    select * from {{ ref('price_tiers') }}

),

clean_products as (

    select
        sku,
        price_usd

    from products
    where not is_dirty

),

tiered as (

    select
        clean_products.sku,
        clean_products.price_usd,
        price_tiers.price_tier,
        price_tiers.tier_order as price_tier_order,
        price_tiers.score_multiplier as price_multiplier

    from clean_products
    inner join price_tiers
        on
            clean_products.price_usd >= price_tiers.min_price_usd
            and (
                price_tiers.max_price_usd is null
                or clean_products.price_usd < price_tiers.max_price_usd
            )

),

final as (

    select * from tiered

)

select * from final
