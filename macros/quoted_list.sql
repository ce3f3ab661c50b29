{% macro quoted_list(values) -%}
    {%- for value in values -%}
        '{{ dbt.escape_single_quotes(value) }}'{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
