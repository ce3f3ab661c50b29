-- the two arms' pooled CTR in a campaign (compared CTE): what both would share if the
-- arms made no difference
{%- set pooled_ctr -%}
    (cast(rates.clicked_send_count + baseline.baseline_clicked_send_count as {{ type_float64() }})
    / (rates.send_count + baseline.baseline_send_count))
{%- endset %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

sends as (

    select * from {{ ref('int_email_sends_summarized_to_send') }}

),

attributed_lines as (

    select * from {{ ref('int_order_lines_attributed_to_send') }}

),

off_policy as (

    select * from {{ ref('int_send_clicks_reweighted_to_arm') }}

),

send_outcomes as (

    select
        sends.send_id,
        sends.campaign_id,
        sends.treatment,
        sends.sent_at,
        sends.is_delivered,
        sends.has_click,
        sends.click_count,
        sends.is_bounced,
        sends.is_unsubscribed,
        sends.has_complete_window,
        count(distinct attributed_lines.order_id) as attributed_order_count,
        count(attributed_lines.line_number) as attributed_line_count,
        sum(case when attributed_lines.is_sent_item then 1 else 0 end) as matched_line_count,
        coalesce(sum(attributed_lines.revenue_usd), 0) as attributed_revenue_usd,
        coalesce(
            sum(case when attributed_lines.is_sent_item then attributed_lines.revenue_usd end), 0
        ) as matched_revenue_usd

    from sends
    left join attributed_lines
        on sends.send_id = attributed_lines.send_id
    group by
        sends.send_id,
        sends.campaign_id,
        sends.treatment,
        sends.sent_at,
        sends.is_delivered,
        sends.has_click,
        sends.click_count,
        sends.is_bounced,
        sends.is_unsubscribed,
        sends.has_complete_window

),

arms as (

    -- Counts cast back to bigint: DuckDB sums integers into a 128-bit type.
    select
        campaign_id,
        treatment,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at,
        cast(count(*) as {{ dbt.type_bigint() }}) as send_count,
        cast(sum(case when is_delivered then 1 else 0 end) as {{ dbt.type_bigint() }})
            as delivered_count,
        cast(sum(case when has_click then 1 else 0 end) as {{ dbt.type_bigint() }})
            as clicked_send_count,
        cast(sum(click_count) as {{ dbt.type_bigint() }}) as click_count,
        cast(sum(case when is_bounced then 1 else 0 end) as {{ dbt.type_bigint() }})
            as bounced_send_count,
        cast(sum(case when is_unsubscribed then 1 else 0 end) as {{ dbt.type_bigint() }})
            as unsubscribed_send_count,
        cast(sum(case when has_complete_window then 1 else 0 end) as {{ dbt.type_bigint() }})
            as complete_window_send_count,
        cast(
            sum(case when attributed_order_count > 0 then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as converted_send_count,
        cast(sum(attributed_order_count) as {{ dbt.type_bigint() }}) as attributed_order_count,
        cast(sum(attributed_line_count) as {{ dbt.type_bigint() }}) as attributed_line_count,
        cast(sum(matched_line_count) as {{ dbt.type_bigint() }}) as matched_line_count,
        sum(attributed_revenue_usd) as attributed_revenue_usd,
        sum(
            cast(attributed_revenue_usd as {{ type_float64() }})
            * cast(attributed_revenue_usd as {{ type_float64() }})
        ) as attributed_revenue_usd_squares,
        sum(matched_revenue_usd) as matched_revenue_usd

    from send_outcomes
    group by campaign_id, treatment

),

rates as (

    select
        campaign_id,
        treatment,
        first_sent_at,
        last_sent_at,
        send_count,
        delivered_count,
        cast(delivered_count as {{ type_float64() }}) / send_count as delivery_rate,
        clicked_send_count,
        click_count,
        cast(clicked_send_count as {{ type_float64() }}) / send_count as ctr,
        {{ wilson_interval('clicked_send_count', 'send_count', 'lower') }} as ctr_lower,
        {{ wilson_interval('clicked_send_count', 'send_count', 'upper') }} as ctr_upper,
        bounced_send_count,
        cast(bounced_send_count as {{ type_float64() }}) / send_count as bounce_rate,
        {{ wilson_interval('bounced_send_count', 'send_count', 'lower') }} as bounce_rate_lower,
        {{ wilson_interval('bounced_send_count', 'send_count', 'upper') }} as bounce_rate_upper,
        unsubscribed_send_count,
        cast(unsubscribed_send_count as {{ type_float64() }}) / send_count as unsubscribe_rate,
        {{ wilson_interval('unsubscribed_send_count', 'send_count', 'lower') }}
            as unsubscribe_rate_lower,
        {{ wilson_interval('unsubscribed_send_count', 'send_count', 'upper') }}
            as unsubscribe_rate_upper,
        complete_window_send_count,
        converted_send_count,
        attributed_order_count,
        attributed_line_count,
        matched_line_count,
        attributed_revenue_usd,
        matched_revenue_usd,
        attributed_revenue_usd_squares,
        cast(attributed_revenue_usd as {{ type_float64() }}) / send_count
            as revenue_per_send_usd,
        -- normal-approximation interval of the mean revenue per send (sample variance)
        {{ mean_interval(
            'cast(attributed_revenue_usd as ' ~ type_float64() ~ ')',
            'attributed_revenue_usd_squares', 'send_count', 'lower'
        ) }} as revenue_per_send_lower,
        {{ mean_interval(
            'cast(attributed_revenue_usd as ' ~ type_float64() ~ ')',
            'attributed_revenue_usd_squares', 'send_count', 'upper'
        ) }} as revenue_per_send_upper,
        cast(attributed_order_count as {{ type_float64() }}) / send_count
            as orders_per_send,
        cast(matched_line_count as {{ type_float64() }})
        / nullif(attributed_line_count, 0) as match_rate

    from arms

),

baseline as (

    select
        campaign_id,
        send_count as baseline_send_count,
        clicked_send_count as baseline_clicked_send_count,
        ctr as baseline_ctr,
        ctr_lower as baseline_ctr_lower,
        ctr_upper as baseline_ctr_upper

    from rates
    where treatment = '{{ var("readout_baseline_treatment") }}'

),

compared as (

    select
        rates.*,
        baseline.baseline_ctr,
        rates.ctr - baseline.baseline_ctr as ctr_diff_vs_baseline,
        {{ newcombe_interval(
            'rates.ctr', 'rates.ctr_lower', 'rates.ctr_upper',
            'baseline.baseline_ctr', 'baseline.baseline_ctr_lower',
            'baseline.baseline_ctr_upper', 'lower'
        ) }} as ctr_diff_lower,
        {{ newcombe_interval(
            'rates.ctr', 'rates.ctr_lower', 'rates.ctr_upper',
            'baseline.baseline_ctr', 'baseline.baseline_ctr_lower',
            'baseline.baseline_ctr_upper', 'upper'
        ) }} as ctr_diff_upper,
        -- the smallest CTR difference this campaign's volumes detect, at the pooled CTR
        {{ minimum_detectable_difference(
            pooled_ctr ~ ' * (1 - ' ~ pooled_ctr ~ ')', 'rates.send_count',
            pooled_ctr ~ ' * (1 - ' ~ pooled_ctr ~ ')', 'baseline.baseline_send_count'
        ) }} as ctr_minimum_detectable_diff

    from rates
    -- The baseline arm's own row has no difference to show.
    left join baseline
        on
            rates.campaign_id = baseline.campaign_id
            and rates.treatment <> '{{ var("readout_baseline_treatment") }}'

),

final as (

    select
        compared.campaign_id,
        compared.treatment,
        compared.first_sent_at,
        compared.last_sent_at,
        compared.send_count,
        compared.delivered_count,
        compared.delivery_rate,
        compared.clicked_send_count,
        compared.click_count,
        compared.ctr,
        compared.ctr_lower,
        compared.ctr_upper,
        compared.baseline_ctr,
        compared.ctr_diff_vs_baseline,
        compared.ctr_diff_lower,
        compared.ctr_diff_upper,
        compared.ctr_minimum_detectable_diff,
        compared.bounced_send_count,
        compared.bounce_rate,
        compared.bounce_rate_lower,
        compared.bounce_rate_upper,
        compared.unsubscribed_send_count,
        compared.unsubscribe_rate,
        compared.unsubscribe_rate_lower,
        compared.unsubscribe_rate_upper,
        compared.complete_window_send_count,
        compared.converted_send_count,
        compared.attributed_order_count,
        compared.orders_per_send,
        compared.attributed_line_count,
        compared.matched_line_count,
        compared.match_rate,
        compared.attributed_revenue_usd,
        compared.matched_revenue_usd,
        compared.revenue_per_send_usd,
        compared.revenue_per_send_lower,
        compared.revenue_per_send_upper,
        compared.attributed_revenue_usd_squares,
        off_policy.logged_send_count as off_policy_logged_send_count,
        off_policy.ips_ctr,
        off_policy.ips_ctr_lower,
        off_policy.ips_ctr_upper,
        off_policy.snips_ctr,
        off_policy.snips_ctr_lower,
        off_policy.snips_ctr_upper,
        {{ var('attribution_window_days') }} as attribution_window_days,
        (select as_of.as_of_date from as_of) as as_of_date

    from compared
    left join off_policy
        on
            compared.campaign_id = off_policy.campaign_id
            and compared.treatment = off_policy.treatment

)

select * from final
