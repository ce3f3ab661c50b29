{% macro uniform_draw(parts) -%}
    {#-
        A seeded pseudo-random number in [0, 1), the same on every run and on both engines: the
        first 8 hex digits of the md5 of the SQL expressions `parts` joined by '|', read as an
        integer, / 2^32. A number, not the hash text, so a draw sorts as cheaply as a score.
    -#}
    {%- set joined = [] -%}
    {%- for part in parts -%}
        {%- if not loop.first %}{% do joined.append("'|'") %}{% endif -%}
        {%- do joined.append(part) -%}
    {%- endfor -%}
    (cast({{ dbt.concat(["'0x'", "substr(" ~ dbt.hash(dbt.concat(joined)) ~ ", 1, 8)"]) }}
        as {{ dbt.type_bigint() }}) / 4294967296.0)
{%- endmacro %}
