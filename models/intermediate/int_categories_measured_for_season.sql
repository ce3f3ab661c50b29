-- Month-of-year season, one row per product category: how much more of the category's buying
-- falls in the days of the year the next var purchase_horizon_days (H) cover than the rest of
-- the catalog's does, from the look-back window (var lookback_days; two years by default, so
-- every day of the year is seen twice):
--   season = ((in-season lines + c * f) / (lines + c)) / f
-- with f = the share of all lines that fell in those days (which absorbs the growth of the
-- business) and c = var season_prior_strength. A line is in season when its date falls within
-- [as_of, as_of + H) shifted back by whole years (365 days). 1 = no season; cooling parts before
-- summer are above 1.
{% set lookback = var('lookback_days') | int %}
{% set horizon = var('purchase_horizon_days') | int %}
{% set prior = var('season_prior_strength') %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

windowed_lines as (

    select
        products.category,
        mod(
            {{ dbt.datediff(
                'purchase_lines.ordered_date', '(select as_of.as_of_date from as_of)', 'day'
            ) }},
            365
        ) as days_before_anniversary

    from purchase_lines
    inner join products on purchase_lines.sku = products.sku
    where
        purchase_lines.ordered_date >= cast({{ dbt.dateadd(
            'day', -lookback, '(select as_of.as_of_date from as_of)'
        ) }} as date)

),

category_lines as (

    select
        category,
        count(*) as line_count,
        sum(
            case
                when
                    days_before_anniversary = 0
                    or days_before_anniversary > 365 - {{ horizon }}
                    then 1
                else 0
            end
        ) as in_season_line_count

    from windowed_lines
    group by category

),

overall as (

    select
        cast(sum(in_season_line_count) as {{ type_float64() }})
        / nullif(sum(line_count), 0) as in_season_share

    from category_lines

),

measured as (

    select
        category_lines.category,
        category_lines.line_count,
        category_lines.in_season_line_count,
        overall.in_season_share,
        coalesce(
            (category_lines.in_season_line_count + {{ prior }} * overall.in_season_share)
            / ((category_lines.line_count + {{ prior }}) * nullif(overall.in_season_share, 0)),
            1.0
        ) as season_index

    from category_lines
    cross join overall

),

final as (

    select * from measured

)

select * from final
