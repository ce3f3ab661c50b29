{% macro minimum_detectable_difference(variance, count, base_variance, base_count) -%}
    {#-
        The smallest true difference of two independent means that a two-sided test at the
        readout's level (z = var readout_z) detects with the power var readout_power_z stands
        for (0.841621: 80%), at the current sample sizes:
            (readout_z + readout_power_z) * sqrt(variance / count + base_variance / base_count)
        Null when a count is below 2. For a rate, pass p * (1 - p) as both variances.
    -#}
    case
        when {{ count }} >= 2 and {{ base_count }} >= 2
            then
                ({{ var('readout_z') }} + {{ var('readout_power_z') }}) * sqrt(
                    {{ variance }} / {{ count }} + {{ base_variance }} / {{ base_count }}
                )
    end
{%- endmacro %}
