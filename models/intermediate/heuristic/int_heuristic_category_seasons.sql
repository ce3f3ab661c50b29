-- The heuristic's season factor, one row per category with completed lines before as_of: how
-- much more of the category sells in the calendar months the horizon [as_of, as_of + var
-- heuristic_horizon_days) covers than over the whole year, from the lines of earlier years:
--   horizon_share = (category lines in those months + s * overall_share)
--                   / (all lines in those months + s)
--   season        = horizon_share / overall_share     (1 = no season)
-- with overall_share = the category's share of all lines and s = var
-- heuristic_season_prior_strength (in lines), which pulls a thin month toward 1.
-- Empty unless heuristic is in var baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
{% set horizon_days = var('heuristic_horizon_days') | int %}
{% set prior = var('heuristic_season_prior_strength') %}
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

-- the first day of every month from as_of's on, enough to pass the horizon's last day
month_starts as (

    {% for month_offset in range(horizon_days // 28 + 2) %}
        select
            cast(
                {{ dbt.dateadd(
                    'month', month_offset, dbt.date_trunc('month', 'as_of_date')
                ) }} as date
            ) as month_start,
            cast(
                {{ dbt.dateadd('day', horizon_days, 'as_of_date') }} as date
            ) as horizon_end_date

        from as_of
        {% if not loop.last %}

            union all

        {% endif %}
    {% endfor %}

),

horizon_months as (

    select distinct extract(month from month_start) as month_number
    from month_starts
    where month_start < horizon_end_date

),

category_lines as (

    select
        products.category,
        count(*) as category_lines,
        sum(case when horizon_months.month_number is not null then 1 else 0 end)
            as horizon_month_lines

    from purchase_lines
    inner join products on purchase_lines.sku = products.sku
    left join horizon_months
        on extract(month from purchase_lines.ordered_date) = horizon_months.month_number
    group by products.category

),

shares as (

    select
        category,
        category_lines,
        horizon_month_lines,
        cast(category_lines as {{ type_float64() }}) / sum(category_lines) over ()
            as overall_share,
        sum(horizon_month_lines) over () as all_horizon_month_lines

    from category_lines

),

measured as (

    select
        category,
        category_lines,
        horizon_month_lines,
        overall_share,
        (horizon_month_lines + {{ prior }} * overall_share)
        / (all_horizon_month_lines + {{ prior }}) as horizon_share,
        (horizon_month_lines + {{ prior }} * overall_share)
        / (all_horizon_month_lines + {{ prior }})
        / overall_share as season

    from shares

),

final as (

    select * from measured
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
