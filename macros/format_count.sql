{% macro format_count(column) -%}
    {#-
        A non-negative integer as text with thousands separators (1212 -> '1,212'), in SQL that
        runs unchanged on DuckDB and BigQuery (up to 999,999,999,999).
    -#}
    case
        when {{ column }} >= 1000000000 then {{ dbt.concat([
            "cast(cast(floor(" ~ column ~ " / 1000000000.0) as " ~ dbt.type_bigint() ~ ") as " ~ dbt.type_string() ~ ")",
            "','",
            "lpad(cast(mod(cast(floor(" ~ column ~ " / 1000000.0) as " ~ dbt.type_bigint() ~ "), 1000) as " ~ dbt.type_string() ~ "), 3, '0')",
            "','",
            "lpad(cast(mod(cast(floor(" ~ column ~ " / 1000.0) as " ~ dbt.type_bigint() ~ "), 1000) as " ~ dbt.type_string() ~ "), 3, '0')",
            "','",
            "lpad(cast(mod(" ~ column ~ ", 1000) as " ~ dbt.type_string() ~ "), 3, '0')",
        ]) }}
        when {{ column }} >= 1000000 then {{ dbt.concat([
            "cast(cast(floor(" ~ column ~ " / 1000000.0) as " ~ dbt.type_bigint() ~ ") as " ~ dbt.type_string() ~ ")",
            "','",
            "lpad(cast(mod(cast(floor(" ~ column ~ " / 1000.0) as " ~ dbt.type_bigint() ~ "), 1000) as " ~ dbt.type_string() ~ "), 3, '0')",
            "','",
            "lpad(cast(mod(" ~ column ~ ", 1000) as " ~ dbt.type_string() ~ "), 3, '0')",
        ]) }}
        when {{ column }} >= 1000 then {{ dbt.concat([
            "cast(cast(floor(" ~ column ~ " / 1000.0) as " ~ dbt.type_bigint() ~ ") as " ~ dbt.type_string() ~ ")",
            "','",
            "lpad(cast(mod(" ~ column ~ ", 1000) as " ~ dbt.type_string() ~ "), 3, '0')",
        ]) }}
        else cast({{ column }} as {{ dbt.type_string() }})
    end
{%- endmacro %}
