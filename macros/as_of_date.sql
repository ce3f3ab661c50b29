{% macro as_of_date() -%}
    {#-
        The scoring cut-off as a SQL date expression: var `as_of` ('YYYY-MM-DD') when set, else
        the day after the last clean order date. Orders dated in the future (after the build's
        clock) are ignored so one bad timestamp cannot move the cut-off.
    -#}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        (
            select cast({{ dbt.dateadd('day', 1, 'max(cast(ordered_at as date))') }} as date)
            from {{ ref('stg_shop__orders') }}
            where
                not is_dirty
                and ordered_at <= {{ dbt.current_timestamp() }}
        )
    {%- endif -%}
{%- endmacro %}
