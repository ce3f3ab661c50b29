-- Department and price-tier revenue shares each add up to 1 in every month (no line lost to a
-- missing department or a gap between price tiers). Returns the months that do not.
with

departments as (

    select * from {{ ref('rpt_revenue_by_month_department') }}

),

price_tiers as (

    select * from {{ ref('rpt_revenue_by_month_price_tier') }}

),

department_totals as (

    select
        'department' as breakdown,
        order_month,
        sum(revenue_share) as share_total

    from departments
    group by order_month

),

price_tier_totals as (

    select
        'price_tier' as breakdown,
        order_month,
        sum(revenue_share) as share_total

    from price_tiers
    group by order_month

),

totals as (

    select * from department_totals

    union all

    select * from price_tier_totals

),

final as (

    select * from totals
    where abs(share_total - 1.0) > 0.000001

)

select * from final
