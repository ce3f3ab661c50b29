-- Catalog-wide popularity of each product bought in the look-back window: distinct
-- buyers, units and revenue across all customers, and the catalog rate (attributed buyers / all
-- vehicle owners) that lift divides by. The old engine ranked by buyer_count.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

taxonomy_rates as (

    select * from {{ ref('int_rates_smoothed_to_taxonomy_group_product') }}

),

windowed_lines as (

    select
        customer_id,
        sku,
        quantity,
        revenue_usd

    from purchase_lines
    where
        ordered_date >= cast(
            {{ dbt.dateadd(
                'day', -1 * var('lookback_days') | int, '(select as_of.as_of_date from as_of)'
            ) }} as date
        )

),

sales as (

    select
        sku,
        count(distinct customer_id) as buyer_count,
        sum(quantity) as units_sold,
        sum(revenue_usd) as revenue_usd

    from windowed_lines
    group by sku

),

catalog_rates as (

    select
        sku,
        smoothed_rate as catalog_rate

    from taxonomy_rates
    where taxonomy_level = 'all'

),

final as (

    select
        sales.sku,
        sales.buyer_count,
        sales.units_sold,
        sales.revenue_usd,
        coalesce(catalog_rates.catalog_rate, 0) as catalog_rate,
        row_number() over (
            order by sales.buyer_count desc, sales.units_sold desc, sales.sku asc
        ) as popularity_rank

    from sales
    left join catalog_rates on sales.sku = catalog_rates.sku

)

select * from final
