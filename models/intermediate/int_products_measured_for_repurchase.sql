-- Replenishment learned from history, one row per product bought before as_of: the
-- share of its buyers who bought it again and the typical (mean) days between purchases, each
-- shrunk toward its category's with prior strength var replenishment_prior_strength (in buyers,
-- resp. intervals). Purchases closer than var replenishment_min_gap_days to the previous one are
-- the same need, not a re-buy. Nothing is flagged consumable by hand.
{% set prior_strength = var('replenishment_prior_strength') %}
with

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

purchase_dates as (

    select distinct
        customer_id,
        sku,
        ordered_date

    from purchase_lines

),

gaps as (

    select
        customer_id,
        sku,
        ordered_date,
        {{ dbt.datediff(
            'lag(ordered_date) over (partition by customer_id, sku order by ordered_date)',
            'ordered_date',
            'day'
        ) }} as gap_days

    from purchase_dates

),

customer_products as (

    select
        customer_id,
        sku,
        sum(
            case when gap_days >= {{ var('replenishment_min_gap_days') }} then 1 else 0 end
        ) as repurchase_count,
        sum(
            case
                when gap_days >= {{ var('replenishment_min_gap_days') }} then gap_days else 0
            end
        ) as repurchase_days

    from gaps
    group by customer_id, sku

),

product_stats as (

    select
        customer_products.sku,
        products.category,
        count(*) as buyer_count,
        sum(case when customer_products.repurchase_count > 0 then 1 else 0 end)
            as repeat_buyer_count,
        sum(customer_products.repurchase_count) as interval_count,
        sum(customer_products.repurchase_days) as interval_days

    from customer_products
    inner join products on customer_products.sku = products.sku
    where not products.is_dirty
    group by customer_products.sku, products.category

),

category_stats as (

    select
        category,
        cast(sum(repeat_buyer_count) as {{ type_float64() }}) / sum(buyer_count)
            as category_repeat_share,
        case
            when sum(interval_count) > 0
                then cast(sum(interval_days) as {{ type_float64() }}) / sum(interval_count)
        end as category_interval_days

    from product_stats
    group by category

),

smoothed as (

    select
        product_stats.sku,
        product_stats.category,
        product_stats.buyer_count,
        product_stats.repeat_buyer_count,
        product_stats.interval_count,
        (
            product_stats.repeat_buyer_count
            + {{ prior_strength }} * category_stats.category_repeat_share
        ) / (product_stats.buyer_count + {{ prior_strength }}) as repeat_share,
        case
            when product_stats.interval_count > 0 or category_stats.category_interval_days > 0
                then (
                    product_stats.interval_days
                    + {{ prior_strength }} * coalesce(category_stats.category_interval_days, 0)
                ) / (
                    product_stats.interval_count
                    + case
                        when category_stats.category_interval_days > 0 then {{ prior_strength }}
                        else 0
                    end
                )
        end as typical_interval_days

    from product_stats
    inner join category_stats on product_stats.category = category_stats.category

),

final as (

    select
        *,
        coalesce(
            repeat_share >= {{ var('replenishment_min_share') }}
            and typical_interval_days >= {{ var('replenishment_min_gap_days') }},
            false
        ) as is_replenishable

    from smoothed

)

select * from final
