-- Intent to treat, one row per (campaign, arm) and per arm over all campaigns pooled (grain):
-- what assigning a customer to an arm did, whether or not an email went out (the control arm
-- gets none), from the product's assignment log joined to completed orders in the campaign's
-- window (int_assigned_customers_measured_for_outcomes; windows still open at as_of are left
-- out). Per assigned customer: revenue, orders, and the share who bought (conversion); each
-- against the control arm (var readout_control_treatment) of the same campaign (or pooled):
-- the difference with a 95% normal-approximation interval (unpooled standard errors) and, for
-- revenue and conversion, the relative lift with a delta-method interval (macro
-- difference_interval). Pooled rows count every (campaign, customer) assignment once.
{% set control = var('readout_control_treatment') %}
with

outcomes as (

    select * from {{ ref('int_assigned_customers_measured_for_outcomes') }}

),

complete_outcomes as (

    select
        campaign_id,
        arm,
        case when is_converted then 1 else 0 end as converted,
        order_count,
        cast(revenue_usd as {{ type_float64() }}) as revenue_usd

    from outcomes
    where has_complete_window

),

per_campaign as (

    select
        'campaign' as grain,
        campaign_id,
        arm,
        count(*) as assigned_customer_count,
        -- bigint on both engines (DuckDB sums integers into a 128-bit integer): the contract
        cast(sum(converted) as {{ dbt.type_bigint() }}) as converting_customer_count,
        cast(sum(order_count) as {{ dbt.type_bigint() }}) as order_count,
        sum(order_count * order_count) as order_count_squares,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_usd * revenue_usd) as revenue_usd_squares

    from complete_outcomes
    group by campaign_id, arm

),

pooled as (

    select
        'pooled' as grain,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        arm,
        count(*) as assigned_customer_count,
        cast(sum(converted) as {{ dbt.type_bigint() }}) as converting_customer_count,
        cast(sum(order_count) as {{ dbt.type_bigint() }}) as order_count,
        sum(order_count * order_count) as order_count_squares,
        sum(revenue_usd) as revenue_usd,
        sum(revenue_usd * revenue_usd) as revenue_usd_squares

    from complete_outcomes
    group by arm

),

arm_totals as (

    select * from per_campaign
    union all
    select * from pooled

),

-- means and sample variances per assigned customer (sum of squares - n * mean^2) / (n - 1)
measured as (

    select
        grain,
        campaign_id,
        arm,
        assigned_customer_count,
        converting_customer_count,
        order_count,
        revenue_usd,
        revenue_usd / assigned_customer_count as revenue_per_customer,
        cast(converting_customer_count as {{ type_float64() }}) / assigned_customer_count
            as conversion_rate,
        cast(order_count as {{ type_float64() }}) / assigned_customer_count
            as orders_per_customer,
        case
            when assigned_customer_count >= 2
                then
                    (revenue_usd_squares - revenue_usd * revenue_usd / assigned_customer_count)
                    / (assigned_customer_count - 1)
        end as revenue_variance,
        case
            when assigned_customer_count >= 2
                then
                    (
                        converting_customer_count
                        - cast(converting_customer_count as {{ type_float64() }})
                        * converting_customer_count / assigned_customer_count
                    )
                    / (assigned_customer_count - 1)
        end as conversion_variance,
        case
            when assigned_customer_count >= 2
                then
                    (
                        order_count_squares
                        - cast(order_count as {{ type_float64() }})
                        * order_count / assigned_customer_count
                    )
                    / (assigned_customer_count - 1)
        end as orders_variance

    from arm_totals

),

with_control as (

    select
        measured.*,
        control_arm.assigned_customer_count as control_customer_count,
        control_arm.revenue_per_customer as control_revenue_per_customer,
        control_arm.revenue_variance as control_revenue_variance,
        control_arm.conversion_rate as control_conversion_rate,
        control_arm.conversion_variance as control_conversion_variance,
        control_arm.orders_per_customer as control_orders_per_customer,
        control_arm.orders_variance as control_orders_variance

    from measured
    left join measured as control_arm
        on
            measured.grain = control_arm.grain
            and coalesce(measured.campaign_id, '') = coalesce(control_arm.campaign_id, '')
            and control_arm.arm = '{{ control }}'
            and measured.arm != '{{ control }}'

),

compared as (

    select
        grain,
        campaign_id,
        arm,
        assigned_customer_count,
        converting_customer_count,
        order_count,
        revenue_usd,
        revenue_per_customer,
        revenue_variance,
        conversion_rate,
        orders_per_customer,
        control_customer_count,
        revenue_per_customer - control_revenue_per_customer as revenue_diff_vs_control,
        {{ difference_interval(
            'revenue_per_customer', 'revenue_variance', 'assigned_customer_count',
            'control_revenue_per_customer', 'control_revenue_variance',
            'control_customer_count', 'lower'
        ) }} as revenue_diff_lower,
        {{ difference_interval(
            'revenue_per_customer', 'revenue_variance', 'assigned_customer_count',
            'control_revenue_per_customer', 'control_revenue_variance',
            'control_customer_count', 'upper'
        ) }} as revenue_diff_upper,
        -- the smallest difference in revenue per assigned customer these volumes detect
        {{ minimum_detectable_difference(
            'revenue_variance', 'assigned_customer_count',
            'control_revenue_variance', 'control_customer_count'
        ) }} as revenue_minimum_detectable_diff,
        case
            when control_revenue_per_customer != 0
                then revenue_per_customer / control_revenue_per_customer - 1
        end as revenue_relative_lift,
        {{ difference_interval(
            'revenue_per_customer', 'revenue_variance', 'assigned_customer_count',
            'control_revenue_per_customer', 'control_revenue_variance',
            'control_customer_count', 'lower', relative=true
        ) }} as revenue_relative_lift_lower,
        {{ difference_interval(
            'revenue_per_customer', 'revenue_variance', 'assigned_customer_count',
            'control_revenue_per_customer', 'control_revenue_variance',
            'control_customer_count', 'upper', relative=true
        ) }} as revenue_relative_lift_upper,
        conversion_rate - control_conversion_rate as conversion_diff_vs_control,
        {{ difference_interval(
            'conversion_rate', 'conversion_variance', 'assigned_customer_count',
            'control_conversion_rate', 'control_conversion_variance',
            'control_customer_count', 'lower'
        ) }} as conversion_diff_lower,
        {{ difference_interval(
            'conversion_rate', 'conversion_variance', 'assigned_customer_count',
            'control_conversion_rate', 'control_conversion_variance',
            'control_customer_count', 'upper'
        ) }} as conversion_diff_upper,
        orders_per_customer - control_orders_per_customer as orders_diff_vs_control,
        {{ difference_interval(
            'orders_per_customer', 'orders_variance', 'assigned_customer_count',
            'control_orders_per_customer', 'control_orders_variance',
            'control_customer_count', 'lower'
        ) }} as orders_diff_lower,
        {{ difference_interval(
            'orders_per_customer', 'orders_variance', 'assigned_customer_count',
            'control_orders_per_customer', 'control_orders_variance',
            'control_customer_count', 'upper'
        ) }} as orders_diff_upper

    from with_control

),

final as (

    select * from compared

)

select * from final
