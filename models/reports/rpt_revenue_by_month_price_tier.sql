with

order_lines as (

    select * from {{ ref('int_order_lines_priced_to_line') }}

),

monthly_totals as (

    select
        order_month,
        count(distinct order_id) as month_order_count,
        sum(revenue_usd) as month_revenue_usd,
        sum(case when department = 'hard_parts' then revenue_usd else 0 end)
            as month_hard_parts_revenue_usd

    from order_lines
    group by order_month

),

tier_months as (

    select
        order_month,
        price_tier,
        price_tier_order,
        count(distinct order_id) as order_count,
        count(*) as line_count,
        sum(revenue_usd) as revenue_usd,
        sum(case when department = 'hard_parts' then revenue_usd else 0 end)
            as hard_parts_revenue_usd

    from order_lines
    group by order_month, price_tier, price_tier_order

),

-- Hard-parts shares answer "how much of parts revenue comes from expensive items".
shares as (

    select
        tier_months.order_month,
        tier_months.price_tier,
        tier_months.price_tier_order,
        tier_months.order_count,
        tier_months.line_count,
        tier_months.revenue_usd,
        tier_months.hard_parts_revenue_usd,
        monthly_totals.month_order_count,
        monthly_totals.month_revenue_usd,
        monthly_totals.month_hard_parts_revenue_usd,
        cast(tier_months.order_count as {{ type_float64() }})
        / monthly_totals.month_order_count as order_share,
        cast(tier_months.revenue_usd as {{ type_float64() }})
        / nullif(cast(monthly_totals.month_revenue_usd as {{ type_float64() }}), 0)
            as revenue_share,
        cast(tier_months.hard_parts_revenue_usd as {{ type_float64() }})
        / nullif(
            cast(monthly_totals.month_hard_parts_revenue_usd as {{ type_float64() }}), 0
        ) as hard_parts_revenue_share

    from tier_months
    inner join monthly_totals
        on tier_months.order_month = monthly_totals.order_month

),

final as (

    select * from shares

)

select * from final
