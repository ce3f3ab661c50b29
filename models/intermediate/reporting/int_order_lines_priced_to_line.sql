-- Completed purchase lines before as_of (the scoring layer's cleaned lines, so reporting and
-- scoring count the same purchases) with the product's department and the paid price's tier.
with

order_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

price_tiers as (

    select * from {{ ref('price_tiers') }}

),

clean_products as (

    select
        sku,
        department,
        category

    from products
    where not is_dirty

),

with_products as (

    select
        order_lines.order_id,
        order_lines.line_number,
        order_lines.customer_id,
        order_lines.sku,
        order_lines.vehicle_id,
        clean_products.department,
        clean_products.category,
        order_lines.ordered_at,
        order_lines.ordered_date as order_date,
        order_lines.quantity,
        order_lines.unit_price_usd,
        order_lines.revenue_usd

    from order_lines
    inner join clean_products
        on order_lines.sku = clean_products.sku

),

-- Tiers by the unit price paid, [min_price_usd, max_price_usd), the top tier open-ended.
tiered as (

    select
        with_products.order_id,
        with_products.line_number,
        with_products.customer_id,
        with_products.sku,
        with_products.vehicle_id,
        with_products.department,
        with_products.category,
        price_tiers.price_tier,
        price_tiers.tier_order as price_tier_order,
        with_products.ordered_at,
        with_products.order_date,
        cast({{ dbt.date_trunc('month', 'with_products.order_date') }} as date) as order_month,
        with_products.quantity,
        with_products.unit_price_usd,
        with_products.revenue_usd

    from with_products
    left join price_tiers
        on
            with_products.unit_price_usd >= price_tiers.min_price_usd
            and (
                price_tiers.max_price_usd is null
                or with_products.unit_price_usd < price_tiers.max_price_usd
            )

),

final as (

    select * from tiered

)

select * from final
