{% macro campaign_seed(as_of_relation) -%}
    {#-
        The text that seeds the random draws (random_eligible, the random email arm): var
        random_seed when set (`vehicle-recs run` passes the campaign id), else the id of the
        default campaign, 'recs-' and the cut-off date read from `as_of_relation` (an import
        CTE of int_as_of_date). So a run without --campaign draws exactly what
        `--campaign recs-<as-of date>` draws.
    -#}
    {%- if var('random_seed') is not none -%}
        '{{ var('random_seed') | string | replace("'", "''") }}'
    {%- else -%}
        (
            select {{ dbt.concat(["'recs-'", "cast(as_of_date as " ~ dbt.type_string() ~ ")"]) }}
            from {{ as_of_relation }}
        )
    {%- endif -%}
{%- endmacro %}
