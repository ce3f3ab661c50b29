{% macro objective_value(probability, price) -%}
    {#-
        What the engine ranks by, from a purchase probability and the product's price, per var
        ranking_objective:
          match   : the probability (most likely purchases first; price ignored)
          revenue : probability * price, the expected revenue of the slot
          blend   : probability * price ^ var blend_price_exponent (0 < exponent < 1)
        A null or non-positive price counts as 1 (the probability alone).
    -#}
    {%- set objective = var('ranking_objective') -%}
    {%- if objective == 'match' -%}
        {%- set exponent = 0 -%}
    {%- elif objective == 'revenue' -%}
        {%- set exponent = 1 -%}
    {%- elif objective == 'blend' -%}
        {%- set exponent = var('blend_price_exponent') -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var ranking_objective must be match, revenue or blend (got '" ~ objective ~ "')"
        ) }}
    {%- endif -%}
    {%- if exponent | float == 0 -%}
        {{ probability }}
    {%- else -%}
        {{ probability }} * power(
            case when {{ price }} > 0 then {{ price }} else 1 end, {{ exponent }}
        )
    {%- endif -%}
{%- endmacro %}
