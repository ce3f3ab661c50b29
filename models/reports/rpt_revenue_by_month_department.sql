with

order_lines as (

    select * from {{ ref('int_order_lines_priced_to_line') }}

),

monthly_totals as (

    select
        order_month,
        count(distinct order_id) as month_order_count,
        sum(revenue_usd) as month_revenue_usd

    from order_lines
    group by order_month

),

department_months as (

    select
        order_month,
        department,
        count(distinct order_id) as order_count,
        count(*) as line_count,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as unit_count,
        sum(revenue_usd) as revenue_usd

    from order_lines
    group by order_month, department

),

-- An order with lines in two departments counts for both, so order shares need not sum to 1;
-- revenue shares do.
shares as (

    select
        department_months.order_month,
        department_months.department,
        department_months.order_count,
        department_months.line_count,
        department_months.unit_count,
        department_months.revenue_usd,
        monthly_totals.month_order_count,
        monthly_totals.month_revenue_usd,
        cast(department_months.order_count as {{ type_float64() }})
        / monthly_totals.month_order_count as order_share,
        cast(department_months.revenue_usd as {{ type_float64() }})
        / nullif(cast(monthly_totals.month_revenue_usd as {{ type_float64() }}), 0)
            as revenue_share

    from department_months
    inner join monthly_totals
        on department_months.order_month = monthly_totals.order_month

),

final as (

    select * from shares

)

select * from final
