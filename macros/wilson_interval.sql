{% macro wilson_interval(successes, trials, bound, z=none) -%}
    {#-
        One bound ('lower' or 'upper') of the Wilson score interval of the proportion
        successes / trials, in the algebraically equivalent form
            (s + z^2/2) / (n + z^2)  -/+  z / (n + z^2) * sqrt(s * (n - s) / n + z^2 / 4)
        (exact in floating point for hand-checkable inputs such as z = 2, n = 12, s = 6),
        clamped to [0, 1] against rounding. Null when trials = 0. z defaults to var readout_z.
    -#}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("wilson_interval: bound must be 'lower' or 'upper'") }}
    {%- endif -%}
    {%- set z_value = var('readout_z') if z is none else z -%}
    {%- set s = 'cast(' ~ successes ~ ' as ' ~ type_float64() ~ ')' -%}
    {%- set n = 'cast(' ~ trials ~ ' as ' ~ type_float64() ~ ')' -%}
    case
        when {{ trials }} > 0
            then {{ 'greatest(0.0, ' if bound == 'lower' else 'least(1.0, ' }}
                (
                    ({{ s }} + {{ z_value }} * {{ z_value }} / 2.0)
                    {{ '-' if bound == 'lower' else '+' }} {{ z_value }} * sqrt(
                        {{ s }} * ({{ n }} - {{ s }}) / {{ n }}
                        + {{ z_value }} * {{ z_value }} / 4.0
                    )
                ) / ({{ n }} + {{ z_value }} * {{ z_value }})
            )
    end
{%- endmacro %}
