{{ config(materialized='table') }}
-- How much each customer buys, one row per clean customer as of as_of:
--   order_rate = (lines + a) / (expected lines + a)
-- with lines = their completed order lines in the look-back window (var lookback_days),
-- expected lines = the average customer's lines per day * the days they were a customer within
-- the window, and a = var order_rate_prior_strength. 1 = an average buyer; a customer who buys
-- three times as often as the average has about 3, a new customer with no purchase yet about 1.
-- Also the taste of a category the customer never bought (int_customer_categories_measured_
-- for_taste has the others): b / (lines + b), b = var category_taste_prior_strength, so a
-- customer with many lines, all elsewhere, is unlikely to start on a new category.
-- A table: the expansion and the eligibility both read it.
{% set lookback = var('lookback_days') | int %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

window_start as (

    select
        cast({{ dbt.dateadd('day', -lookback, 'as_of_date') }} as date) as window_start_date,
        as_of_date

    from as_of

),

windowed_lines as (

    select
        purchase_lines.customer_id,
        count(*) as line_count

    from purchase_lines
    cross join window_start
    where purchase_lines.ordered_date >= window_start.window_start_date
    group by purchase_lines.customer_id

),

exposures as (

    select
        customers.customer_id,
        coalesce(windowed_lines.line_count, 0) as line_count,
        greatest(
            {{ dbt.datediff(
                'greatest(coalesce(cast(customers.created_at as date), '
                ~ 'window_start.window_start_date), window_start.window_start_date)',
                'window_start.as_of_date',
                'day'
            ) }},
            1
        ) as customer_days

    from customers
    cross join window_start
    left join windowed_lines on customers.customer_id = windowed_lines.customer_id

),

average_rate as (

    select cast(sum(line_count) as {{ type_float64() }}) / sum(customer_days) as lines_per_day
    from exposures

),

measured as (

    select
        exposures.customer_id,
        exposures.line_count,
        exposures.customer_days,
        exposures.customer_days * average_rate.lines_per_day as expected_line_count,
        (exposures.line_count + {{ var('order_rate_prior_strength') }})
        / (
            exposures.customer_days * average_rate.lines_per_day
            + {{ var('order_rate_prior_strength') }}
        ) as order_rate,
        {{ var('category_taste_prior_strength') }}
        / (exposures.line_count + {{ var('category_taste_prior_strength') }})
            as unbought_category_taste

    from exposures
    cross join average_rate

),

final as (

    select * from measured

)

select * from final
