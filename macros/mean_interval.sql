{% macro mean_interval(total, sum_of_squares, count, bound, z=none) -%}
    {#-
        One bound ('lower' or 'upper') of the normal-approximation interval of a mean from its
        total, sum of squares and count: mean -/+ z * sqrt(sample variance / count), with
        sample variance = (sum_of_squares - total^2 / count) / (count - 1), floored at 0 against
        rounding. Null below 2 observations. z defaults to var readout_z.
    -#}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("mean_interval: bound must be 'lower' or 'upper'") }}
    {%- endif -%}
    {%- set z_value = var('readout_z') if z is none else z -%}
    case
        when {{ count }} >= 2
            then
                {{ total }} / {{ count }}
                {{ '-' if bound == 'lower' else '+' }} {{ z_value }} * sqrt(
                    greatest(
                        ({{ sum_of_squares }} - {{ total }} * {{ total }} / {{ count }})
                        / ({{ count }} - 1),
                        0
                    ) / {{ count }}
                )
    end
{%- endmacro %}
