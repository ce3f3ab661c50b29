with

order_lines as (

    select * from {{ ref('int_order_lines_priced_to_line') }}

),

sends as (

    select * from {{ ref('int_email_sends_summarized_to_send') }}

),

send_items as (

    select * from {{ ref('stg_email__send_items') }}

),

-- Every send to the buyer in the attribution window before the purchase: from sent_at
-- (inclusive) to sent_at + attribution_window_days (exclusive), measured in seconds so the
-- window is exact on both engines.
candidate_sends as (

    select
        order_lines.order_id,
        order_lines.line_number,
        order_lines.sku,
        order_lines.ordered_at,
        order_lines.revenue_usd,
        sends.send_id,
        sends.sent_at,
        row_number() over (
            partition by order_lines.order_id, order_lines.line_number
            order by sends.sent_at desc, sends.send_id desc
        ) as touch_rank

    from order_lines
    inner join sends
        on
            order_lines.customer_id = sends.customer_id
            and order_lines.ordered_at >= sends.sent_at
            and {{ dbt.datediff('sends.sent_at', 'order_lines.ordered_at', 'second') }}
            < {{ var('attribution_window_days') }} * 86400

),

-- Last touch: a line counts once, for the latest send before it, so arms never share revenue.
last_touch as (

    select * from candidate_sends
    where touch_rank = 1

),

sent_skus as (

    select distinct
        send_id,
        sku

    from send_items
    where not is_dirty

),

matched as (

    select
        last_touch.send_id,
        last_touch.order_id,
        last_touch.line_number,
        last_touch.sku,
        last_touch.sent_at,
        last_touch.ordered_at,
        last_touch.revenue_usd,
        sent_skus.sku is not null as is_sent_item

    from last_touch
    left join sent_skus
        on
            last_touch.send_id = sent_skus.send_id
            and last_touch.sku = sent_skus.sku

),

final as (

    select * from matched

)

select * from final
