-- Intent to treat, one row per (campaign, customer) of the product's assignment log (clean
-- rows): the arm the customer was assigned to, whether or not an email went out (the control
-- arm gets none), and what the customer bought in the campaign's window: completed orders,
-- revenue and whether they bought at all, from the campaign date (the day of its first
-- assignment) for var attribution_window_days, before as_of. has_complete_window is false while
-- the window is still open at as_of (those rows are left out of the comparisons).
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

assignments as (

    select * from {{ ref('stg_bandit__assignments') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_priced_to_line') }}

),

clean_assignments as (

    select
        campaign_id,
        customer_id,
        arm,
        assigned_at

    from assignments
    where not is_dirty

),

campaign_windows as (

    select
        campaign_id,
        cast(min(assigned_at) as date) as campaign_date,
        cast({{ dbt.dateadd(
            'day', var('attribution_window_days'), 'cast(min(assigned_at) as date)'
        ) }} as date) as window_end_date

    from clean_assignments
    group by campaign_id

),

assigned as (

    select
        clean_assignments.campaign_id,
        clean_assignments.customer_id,
        clean_assignments.arm,
        campaign_windows.campaign_date,
        campaign_windows.window_end_date,
        campaign_windows.window_end_date <= (select as_of.as_of_date from as_of)
            as has_complete_window

    from clean_assignments
    inner join campaign_windows on clean_assignments.campaign_id = campaign_windows.campaign_id

),

-- the assigned customers' completed lines inside their campaign's window (and before as_of)
window_lines as (

    select
        assigned.campaign_id,
        assigned.customer_id,
        count(distinct order_lines.order_id) as order_count,
        sum(order_lines.revenue_usd) as revenue_usd

    from assigned
    inner join order_lines
        on
            assigned.customer_id = order_lines.customer_id
            and assigned.campaign_date <= order_lines.order_date
            and assigned.window_end_date > order_lines.order_date
    group by assigned.campaign_id, assigned.customer_id

),

measured as (

    select
        assigned.campaign_id,
        assigned.customer_id,
        assigned.arm,
        assigned.campaign_date,
        assigned.window_end_date,
        assigned.has_complete_window,
        coalesce(window_lines.order_count, 0) as order_count,
        coalesce(window_lines.revenue_usd, 0) as revenue_usd,
        coalesce(window_lines.order_count, 0) > 0 as is_converted

    from assigned
    left join window_lines
        on
            assigned.campaign_id = window_lines.campaign_id
            and assigned.customer_id = window_lines.customer_id

),

final as (

    select * from measured

)

select * from final
