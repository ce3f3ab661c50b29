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

send_items as (

    select * from {{ ref('stg_email__send_items') }}

),

clean_sends as (

    select
        send_id,
        campaign_id,
        customer_id,
        treatment,
        model_version,
        propensity,
        sent_at

    from sends
    where
        not is_dirty
        and cast(sent_at as date) < (select as_of.as_of_date from as_of)

),

event_counts as (

    select
        send_id,
        cast(sum(case when event_type = 'delivered' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as delivered_events,
        cast(sum(case when event_type = 'open' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as open_events,
        cast(sum(case when event_type = 'click' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as click_events,
        cast(sum(case when event_type = 'bounce' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as bounce_events,
        cast(
            sum(case when event_type = 'unsubscribe' then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as unsubscribe_events

    from events
    where
        not is_dirty
        and cast(occurred_at as date) < (select as_of.as_of_date from as_of)
    group by send_id

),

item_counts as (

    select
        send_id,
        count(*) as item_count

    from send_items
    where not is_dirty
    group by send_id

),

summarized as (

    select
        clean_sends.send_id,
        clean_sends.campaign_id,
        clean_sends.customer_id,
        clean_sends.treatment,
        clean_sends.model_version,
        clean_sends.propensity,
        clean_sends.sent_at,
        coalesce(item_counts.item_count, 0) as item_count,
        coalesce(event_counts.delivered_events, 0) > 0 as is_delivered,
        coalesce(event_counts.open_events, 0) > 0 as is_opened,
        coalesce(event_counts.click_events, 0) > 0 as has_click,
        coalesce(event_counts.click_events, 0) as click_count,
        coalesce(event_counts.bounce_events, 0) > 0 as is_bounced,
        coalesce(event_counts.unsubscribe_events, 0) > 0 as is_unsubscribed,
        -- A send whose attribution window ends after as_of has not had its full chance to
        -- convert yet: its orders and revenue are a lower bound.
        {{ dbt.datediff(
            'clean_sends.sent_at',
            'cast((select as_of.as_of_date from as_of) as ' ~ dbt.type_timestamp() ~ ')',
            'second'
        ) }} >= {{ var('attribution_window_days') }} * 86400 as has_complete_window

    from clean_sends
    left join event_counts
        on clean_sends.send_id = event_counts.send_id
    left join item_counts
        on clean_sends.send_id = item_counts.send_id

),

final as (

    select * from summarized

)

select * from final
