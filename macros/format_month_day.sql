{% macro format_month_day(column) -%}
    {#-
        A date as its English month abbreviation and day of month ('Oct 3'), in SQL that runs
        unchanged on DuckDB and BigQuery; used in the human-readable reasons.
    -#}
    {{ dbt.concat([
        "case extract(month from " ~ column ~ ")"
        ~ " when 1 then 'Jan' when 2 then 'Feb' when 3 then 'Mar' when 4 then 'Apr'"
        ~ " when 5 then 'May' when 6 then 'Jun' when 7 then 'Jul' when 8 then 'Aug'"
        ~ " when 9 then 'Sep' when 10 then 'Oct' when 11 then 'Nov' else 'Dec' end",
        "' '",
        "cast(extract(day from " ~ column ~ ") as " ~ dbt.type_string() ~ ")",
    ]) }}
{%- endmacro %}
