{% macro type_float64() -%}
    {#-
        A 64-bit float type name. dbt.type_float() renders `float`, which DuckDB reads as a
        32-bit REAL (7 significant digits); rates and intervals need doubles on both engines.
    -#}
    {{ return(adapter.dispatch('type_float64')()) }}
{%- endmacro %}

{% macro default__type_float64() -%}
    double
{%- endmacro %}

{% macro bigquery__type_float64() -%}
    float64
{%- endmacro %}
