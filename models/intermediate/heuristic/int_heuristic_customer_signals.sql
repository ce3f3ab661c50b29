-- The heuristic's per-customer signals, one row per customer who owns a vehicle:
--   order_rate            = (their completed lines in the last var heuristic_order_rate_days
--                           days + 1) / (the mean of the same over these customers + 1), how
--                           much more (or less) often than an average owner they buy;
--   unseen_category_taste = a / (their lines + a), the taste factor of a category they never
--                           bought from (int_heuristic_customer_category_tastes has the others),
--                           a = var heuristic_taste_prior_strength.
-- The mean runs over the owners the vehicle rates are measured on, so the average owner's
-- order_rate is about 1. Empty unless heuristic is in var baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
{% set prior = var('heuristic_taste_prior_strength') %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

owners as (

    select distinct customer_id
    from owned

),

customer_lines as (

    select
        customer_id,
        count(*) as history_lines,
        sum(
            case
                when ordered_date >= cast(
                    {{ dbt.dateadd(
                        'day',
                        -1 * var('heuristic_order_rate_days') | int,
                        '(select as_of.as_of_date from as_of)'
                    ) }} as date
                ) then 1
                else 0
            end
        ) as recent_lines

    from purchase_lines
    group by customer_id

),

owner_lines as (

    select
        owners.customer_id,
        coalesce(customer_lines.recent_lines, 0) as recent_lines,
        coalesce(customer_lines.history_lines, 0) as history_lines

    from owners
    left join customer_lines on owners.customer_id = customer_lines.customer_id

),

measured as (

    select
        customer_id,
        recent_lines,
        history_lines,
        (recent_lines + 1.0) / (avg(recent_lines) over () + 1.0) as order_rate,
        cast({{ prior }} as {{ type_float64() }}) / (history_lines + {{ prior }})
            as unseen_category_taste

    from owner_lines

),

final as (

    select * from measured
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
