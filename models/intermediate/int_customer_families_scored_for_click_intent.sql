{{ config(materialized='table') }}
-- Click intent, one row per (opted-in customer, variant family) with a click in an email on one
-- of its SKUs in the var click_intent_days days before as_of and no purchase of the family
-- before as_of, with the probability that the customer buys the family within var
-- purchase_horizon_days (H): the same question replayed at the earlier cut-offs as_of - H,
-- as_of - 2H, ... (var click_intent_folds, macro horizon_folds): at each one, every (customer,
-- family) clicked in the days before it and not bought before it is an observation, in the bin
-- of its days since the last click (var click_intent_bin_days), and a purchase when the
-- customer bought the family in [cut-off, cut-off + H). Each bin's rate is shrunk toward the
-- pooled rate (prior var click_intent_prior_strength observations):
--   p(bin) = (purchases(bin) + k * p(all)) / (observations(bin) + k)
-- score = var click_intent_weight * p (1 keeps it a probability, competing with new items and
-- re-buys for a slot; 0 turns click intent off: no rows). sku is the last SKU clicked; the
-- eligibility model (int_customer_products_filtered_to_eligible) gives it the larger of its own
-- score and this one, and the reason quotes last_clicked_date.
-- Clicks and purchases dated on or after as_of are never read.
{% set horizon = var('purchase_horizon_days') | int %}
{% set look_back = var('click_intent_days') | int %}
{% set prior = var('click_intent_prior_strength') %}
{% set bin_starts = var('click_intent_bin_days') | sort %}
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

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

folds as (

    {{ horizon_folds('(select as_of.as_of_date from as_of)', var('click_intent_folds'), horizon) }}

),

-- the learning folds and, as cut-off 0, as_of itself (the rows that are scored)
cutoffs as (

    select
        fold_number as cutoff_number,
        fold_date as cutoff_date,
        fold_end_date as cutoff_end_date

    from folds

    union all

    select
        0 as cutoff_number,
        as_of_date as cutoff_date,
        as_of_date as cutoff_end_date

    from as_of

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

clicks as (

    select
        sends.customer_id,
        events.sku,
        families.family_id,
        events.occurred_at,
        cast(events.occurred_at as date) as clicked_date

    from events
    inner join sends on events.send_id = sends.send_id
    inner join families on events.sku = families.sku
    where
        not events.is_dirty
        and not sends.is_dirty
        and events.event_type = 'click'
        and cast(events.occurred_at as date) < (select as_of.as_of_date from as_of)

),

-- per cut-off, the clicks of the look-back window before it, the latest first per family
cutoff_clicks as (

    select
        cutoffs.cutoff_number,
        cutoffs.cutoff_date,
        cutoffs.cutoff_end_date,
        clicks.customer_id,
        clicks.family_id,
        clicks.sku,
        clicks.clicked_date,
        row_number() over (
            partition by cutoffs.cutoff_number, clicks.customer_id, clicks.family_id
            order by clicks.occurred_at desc, clicks.sku asc
        ) as click_recency

    from clicks
    inner join cutoffs
        on
            clicks.clicked_date < cutoffs.cutoff_date
            and clicks.clicked_date
            >= cast({{ dbt.dateadd('day', -look_back, 'cutoffs.cutoff_date') }} as date)

),

last_clicks as (

    select * from cutoff_clicks
    where click_recency = 1

),

family_purchases as (

    select distinct
        purchase_lines.customer_id,
        families.family_id,
        purchase_lines.ordered_date

    from purchase_lines
    inner join families on purchase_lines.sku = families.sku

),

outcomes as (

    select
        last_clicks.cutoff_number,
        last_clicks.cutoff_date,
        last_clicks.customer_id,
        last_clicks.family_id,
        last_clicks.sku,
        last_clicks.clicked_date,
        max(
            case when family_purchases.ordered_date < last_clicks.cutoff_date then 1 else 0 end
        ) as was_bought_before,
        max(
            case
                when
                    family_purchases.ordered_date >= last_clicks.cutoff_date
                    and family_purchases.ordered_date < last_clicks.cutoff_end_date
                    then 1
                else 0
            end
        ) as is_bought

    from last_clicks
    left join family_purchases
        on
            last_clicks.customer_id = family_purchases.customer_id
            and last_clicks.family_id = family_purchases.family_id
    group by
        last_clicks.cutoff_number,
        last_clicks.cutoff_date,
        last_clicks.customer_id,
        last_clicks.family_id,
        last_clicks.sku,
        last_clicks.clicked_date

),

clicked_not_bought as (

    select
        *,
        {{ dbt.datediff(
            'clicked_date', 'cutoff_date', 'day'
        ) }} as days_since_click

    from outcomes
    where was_bought_before = 0

),

binned as (

    select
        *,
        {{ elapsed_bin('days_since_click', bin_starts) }} as click_bin_start

    from clicked_not_bought

),

observations as (

    select * from binned
    where cutoff_number > 0

),

overall_rate as (

    select
        cast(sum(is_bought) as {{ type_float64() }}) / nullif(count(*), 0) as overall_probability

    from observations

),

bin_counts as (

    select
        click_bin_start,
        count(*) as observation_count,
        sum(is_bought) as purchase_count

    from observations
    group by click_bin_start

),

bin_rates as (

    select
        bin_counts.click_bin_start,
        (
            bin_counts.purchase_count
            + {{ prior }} * coalesce(overall_rate.overall_probability, 0)
        ) / (bin_counts.observation_count + {{ prior }}) as click_probability

    from bin_counts
    cross join overall_rate

),

scored as (

    select
        binned.customer_id,
        binned.family_id,
        binned.sku,
        binned.clicked_date as last_clicked_date,
        binned.days_since_click,
        coalesce(bin_rates.click_probability, overall_rate.overall_probability)
            as click_probability,
        {{ var('click_intent_weight') }}
        * coalesce(bin_rates.click_probability, overall_rate.overall_probability) as score

    from binned
    inner join opted_in on binned.customer_id = opted_in.customer_id
    cross join overall_rate
    left join bin_rates on binned.click_bin_start = bin_rates.click_bin_start
    where binned.cutoff_number = 0

),

final as (

    select * from scored
    where score > 0

)

select * from final
