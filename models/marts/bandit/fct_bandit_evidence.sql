with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

logged_sends as (

    select * from {{ ref('int_email_sends_joined_to_strategy') }}

),

in_window as (

    select * from logged_sends
    where is_in_window

),

-- Counts cast back to bigint: DuckDB sums integers into a 128-bit type.
evidence as (

    select
        strategy,
        context,
        cast(count(*) as {{ dbt.type_bigint() }}) as send_count,
        cast(sum(case when has_click then 1 else 0 end) as {{ dbt.type_bigint() }})
            as clicked_send_count,
        sum(decay_weight) as weighted_send_count,
        sum(case when has_click then decay_weight else 0 end) as weighted_clicked_send_count,
        cast(count(distinct campaign_id) as {{ dbt.type_bigint() }}) as campaign_count,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at

    from in_window
    group by strategy, context

),

final as (

    select
        strategy,
        context,
        send_count,
        clicked_send_count,
        weighted_send_count,
        weighted_clicked_send_count,
        weighted_clicked_send_count / weighted_send_count as weighted_ctr,
        campaign_count,
        first_sent_at,
        last_sent_at,
        {{ var('bandit_half_life_days') }} as half_life_days,
        (select as_of.as_of_date from as_of) as as_of_date

    from evidence

)

select * from final
