with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

sends as (

    select * from {{ ref('stg_email__sends') }}

),

events as (

    select * from {{ ref('stg_email__events') }}

),

assignments as (

    select * from {{ ref('stg_bandit__assignments') }}

),

clean_sends as (

    select
        send_id,
        campaign_id,
        customer_id,
        treatment,
        sent_at

    from sends
    where
        not is_dirty
        and cast(sent_at as date) < (select as_of.as_of_date from as_of)

),

click_counts as (

    select
        send_id,
        count(*) as click_count

    from events
    where
        not is_dirty
        and event_type = 'click'
        and cast(occurred_at as date) < (select as_of.as_of_date from as_of)
    group by send_id

),

logged_assignments as (

    select
        campaign_id,
        customer_id,
        arm,
        strategy,
        context,
        arm_propensity,
        strategy_propensity

    from assignments
    where
        not is_dirty
        and strategy is not null

),

-- Sends the log knows: the email history says who got an email, the log says which strategy
-- and context made it. Sends without a log row (older history) are not evidence.
joined as (

    select
        clean_sends.send_id,
        clean_sends.campaign_id,
        clean_sends.customer_id,
        clean_sends.treatment,
        logged_assignments.arm,
        logged_assignments.strategy,
        logged_assignments.context,
        logged_assignments.arm_propensity,
        logged_assignments.strategy_propensity,
        clean_sends.sent_at,
        coalesce(click_counts.click_count, 0) > 0 as has_click,
        {{ dbt.datediff(
            'cast(clean_sends.sent_at as date)', '(select as_of.as_of_date from as_of)', 'day'
        ) }}
            as age_days

    from clean_sends
    inner join logged_assignments
        on
            clean_sends.campaign_id = logged_assignments.campaign_id
            and clean_sends.customer_id = logged_assignments.customer_id
    left join click_counts
        on clean_sends.send_id = click_counts.send_id

),

-- Exponential decay: a send age_days old weighs 0.5 ** (age_days / half-life), so the
-- bandit follows changes in what works; sends older than the window are dropped from evidence.
weighted as (

    select
        *,
        power(
            0.5,
            cast(age_days as {{ type_float64() }}) / {{ var('bandit_half_life_days') }}
        ) as decay_weight,
        age_days <= {{ var('bandit_evidence_window_days') }} as is_in_window

    from joined

),

final as (

    select * from weighted

)

select * from final
