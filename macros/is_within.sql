{% macro is_within(column, upper_var) -%}
    {#-
        Boolean expression: the value is above 0 and at most the var `upper_var` (a plausibility
        bound). NaN and infinities are outside on both engines (DuckDB orders NaN above every
        number, BigQuery compares it false); null gives null.
    -#}
    ({{ column }} > 0 and {{ column }} <= {{ var(upper_var) }})
{%- endmacro %}
