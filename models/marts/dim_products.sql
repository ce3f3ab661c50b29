-- One row per clean catalog product, with what the scoring knows about it: variant family,
-- fitment breadth and tier, price tier, catalog popularity and learned re-buy rhythm.
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

rebuy_hazard as (

    select * from {{ ref('int_products_measured_for_rebuy_hazard') }}

),

-- each product's re-buy rhythm in one row: the elapsed-time bin where a re-buy within the
-- horizon is likeliest, and that probability
rebuy_peaks as (

    select
        sku,
        elapsed_bin_start as peak_rebuy_after_days,
        rebuy_probability as peak_rebuy_probability

    from (
        select
            sku,
            elapsed_bin_start,
            rebuy_probability,
            row_number() over (
                partition by sku
                order by rebuy_probability desc, elapsed_bin_start asc
            ) as peak_rank

        from rebuy_hazard
    ) as ranked_bins
    where peak_rank = 1

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
        rebuy_peaks.peak_rebuy_probability,
        rebuy_peaks.peak_rebuy_after_days,
        coalesce(popularity.buyer_count, 0) as buyer_count,
        -- bigint on both engines (DuckDB sums integers into a 128-bit integer): the contract
        cast(coalesce(popularity.units_sold, 0) as {{ dbt.type_bigint() }}) as units_sold,
        coalesce(popularity.revenue_usd, 0) as revenue_usd,
        coalesce(popularity.catalog_rate, 0) as catalog_rate,
        (select as_of.as_of_date from as_of) as as_of_date

    from clean_products
    inner join families on clean_products.sku = families.sku
    inner join breadth on clean_products.sku = breadth.sku
    inner join price_tiers on clean_products.sku = price_tiers.sku
    left join popularity on clean_products.sku = popularity.sku
    left join rebuy_peaks on clean_products.sku = rebuy_peaks.sku

)

select * from final
