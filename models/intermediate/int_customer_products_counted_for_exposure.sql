-- Rotation: one row per (customer, product) shown to the customer in one of their latest var
-- rotation_recent_sends clean sends before as_of without a click on it in that send, with how
-- many of those sends showed it unclicked (exposure_count). The ranking multiplies the engine's
-- rank value by var rotation_decay ^ exposure_count (re-buys exempt), so an item the customer
-- keeps ignoring gives its slot to the next one. Sends, items and clicks dated on or after
-- as_of are never read.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

sends as (

    select * from {{ ref('stg_email__sends') }}

),

send_items as (

    select * from {{ ref('stg_email__send_items') }}

),

events as (

    select * from {{ ref('stg_email__events') }}

),

sends_before_as_of as (

    select
        send_id,
        customer_id,
        row_number() over (
            partition by customer_id
            order by sent_at desc, send_id desc
        ) as send_recency

    from sends
    where
        not is_dirty
        and customer_id is not null
        and cast(sent_at as date) < (select as_of.as_of_date from as_of)

),

recent_sends as (

    select
        send_id,
        customer_id

    from sends_before_as_of
    where send_recency <= {{ var('rotation_recent_sends') }}

),

shown as (

    select distinct
        recent_sends.send_id,
        recent_sends.customer_id,
        send_items.sku

    from recent_sends
    inner join send_items on recent_sends.send_id = send_items.send_id
    where
        not send_items.is_dirty
        and send_items.sku is not null

),

clicked as (

    select distinct
        send_id,
        sku

    from events
    where
        not is_dirty
        and event_type = 'click'
        and sku is not null
        and cast(occurred_at as date) < (select as_of.as_of_date from as_of)

),

shown_without_click as (

    select
        shown.customer_id,
        shown.sku

    from shown
    left join clicked
        on
            shown.send_id = clicked.send_id
            and shown.sku = clicked.sku
    where clicked.sku is null

),

final as (

    select
        customer_id,
        sku,
        count(*) as exposure_count

    from shown_without_click
    group by customer_id, sku

)

select * from final
