with

order_lines as (

    select * from {{ ref('int_order_lines_priced_to_line') }}

),

-- One row per order: does it hold at least one apparel line?
orders as (

    select
        order_id,
        order_month,
        max(case when department = 'apparel' then 1 else 0 end) as has_apparel,
        sum(case when department = 'apparel' then revenue_usd else 0 end)
            as apparel_revenue_usd,
        sum(revenue_usd) as revenue_usd

    from order_lines
    group by order_id, order_month

),

months as (

    select
        order_month,
        count(*) as order_count,
        cast(sum(has_apparel) as {{ dbt.type_bigint() }}) as apparel_order_count,
        sum(revenue_usd) as revenue_usd,
        sum(apparel_revenue_usd) as apparel_revenue_usd

    from orders
    group by order_month

),

-- A trailing three-month share smooths the small monthly counts of small shops.
trend as (

    select
        order_month,
        order_count,
        apparel_order_count,
        cast(apparel_order_count as {{ type_float64() }}) / order_count
            as apparel_order_share,
        revenue_usd,
        apparel_revenue_usd,
        cast(apparel_revenue_usd as {{ type_float64() }})
        / nullif(cast(revenue_usd as {{ type_float64() }}), 0) as apparel_revenue_share,
        cast(
            sum(apparel_order_count) over (
                order by order_month rows between 2 preceding and current row
            ) as {{ type_float64() }}
        )
        / sum(order_count) over (
            order by order_month rows between 2 preceding and current row
        ) as apparel_order_share_trailing_3_months

    from months

),

final as (

    select * from trend

)

select * from final
