{#-
    Where every model and seed goes: the profile's schema (BigQuery: dataset) plus var
    dataset_suffix (default ''), so `vehicle-recs backtest --target prod` builds as of a past
    date into its own dataset (`<dataset>_backtest`) beside the weekly one instead of over it.
    A custom schema (none is configured) replaces the profile's, as in dbt's default.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set base = target.schema if custom_schema_name is none else custom_schema_name | trim -%}
    {{ base ~ var('dataset_suffix', '') }}
{%- endmacro %}
