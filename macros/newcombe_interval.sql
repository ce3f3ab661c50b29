{% macro newcombe_interval(rate, rate_lower, rate_upper, base_rate, base_lower, base_upper, bound) -%}
    {#-
        One bound ('lower' or 'upper') of Newcombe's hybrid score interval (his method 10) for
        the difference of two independent proportions, rate - base_rate, built from each
        proportion's own Wilson interval:
            lower = d - sqrt((rate - rate_lower)^2 + (base_upper - base_rate)^2)
            upper = d + sqrt((rate_upper - rate)^2 + (base_rate - base_lower)^2)
        Unlike the normal (Wald) approximation it stays sensible when clicks are rare.
    -#}
    {%- if bound == 'lower' -%}
    ({{ rate }} - {{ base_rate }}) - sqrt(
        ({{ rate }} - {{ rate_lower }}) * ({{ rate }} - {{ rate_lower }})
        + ({{ base_upper }} - {{ base_rate }}) * ({{ base_upper }} - {{ base_rate }})
    )
    {%- elif bound == 'upper' -%}
    ({{ rate }} - {{ base_rate }}) + sqrt(
        ({{ rate_upper }} - {{ rate }}) * ({{ rate_upper }} - {{ rate }})
        + ({{ base_rate }} - {{ base_lower }}) * ({{ base_rate }} - {{ base_lower }})
    )
    {%- else -%}
    {{ exceptions.raise_compiler_error("newcombe_interval: bound must be 'lower' or 'upper'") }}
    {%- endif -%}
{%- endmacro %}
