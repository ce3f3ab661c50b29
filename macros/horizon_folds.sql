{% macro horizon_folds(as_of_date, folds, horizon) -%}
    {#-
        The earlier cut-offs a model replays to learn what happens within a horizon: one row per
        fold 1..folds with fold_date = as_of_date - fold * horizon days and fold_end_date =
        as_of_date - (fold - 1) * horizon days, so fold 1 ends at as_of_date and the folds tile
        the history before it. as_of_date is a SQL date expression.
    -#}
    {%- for fold in range(1, folds | int + 1) %}
        select
            {{ fold }} as fold_number,
            cast({{ dbt.dateadd('day', -fold * horizon, as_of_date) }} as date) as fold_date,
            cast({{ dbt.dateadd('day', -(fold - 1) * horizon, as_of_date) }} as date)
                as fold_end_date
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
{%- endmacro %}
