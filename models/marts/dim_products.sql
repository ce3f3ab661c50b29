-- One row per clean catalog product, with what the scoring knows about it: variant family,
-- fitment breadth and tier, price tier, catalog popularity and learned repurchase behaviour.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

breadth as (

    select * from {{ ref('int_products_measured_for_breadth') }}

),

price_tiers as (

    select * from {{ ref('int_products_tiered_by_price') }}

),

popularity as (

    select * from {{ ref('int_products_measured_for_popularity') }}

),

repurchase as (

    select * from {{ ref('int_products_measured_for_repurchase') }}

),

clean_products as (

    select * from products
    where not is_dirty

),

final as (

    select
        clean_products.sku,
        clean_products.product_name,
        clean_products.brand,
        clean_products.category,
        clean_products.department,
        clean_products.price_usd,
        clean_products.image_url,
        clean_products.product_url,
        clean_products.is_active,
        clean_products.is_universal,
        clean_products.created_at,
        families.family_id,
        families.family_size,
        families.is_variant,
        breadth.fitment_breadth,
        breadth.breadth_tier,
        price_tiers.price_tier,
        popularity.popularity_rank,
        repurchase.repeat_share,
        repurchase.typical_interval_days,
        coalesce(popularity.buyer_count, 0) as buyer_count,
        coalesce(popularity.units_sold, 0) as units_sold,
        coalesce(popularity.revenue_usd, 0) as revenue_usd,
        coalesce(popularity.catalog_rate, 0) as catalog_rate,
        coalesce(repurchase.is_replenishable, false) as is_replenishable,
        (select as_of.as_of_date from as_of) as as_of_date

    from clean_products
    inner join families on clean_products.sku = families.sku
    inner join breadth on clean_products.sku = breadth.sku
    inner join price_tiers on clean_products.sku = price_tiers.sku
    left join popularity on clean_products.sku = popularity.sku
    left join repurchase on clean_products.sku = repurchase.sku

)

select * from final
