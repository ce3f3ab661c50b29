{% macro difference_interval(mean, variance, count, base_mean, base_variance, base_count,
                             bound, relative=false, z=none) -%}
    {#-
        One bound ('lower' or 'upper') of the normal-approximation interval of the difference of
        two independent means, mean - base_mean, with standard error
            sqrt(variance / count + base_variance / base_count)
        (the unpooled, Welch-type error; variances are the samples' own). With relative=true,
        the interval of the relative lift (mean - base_mean) / base_mean by the delta method:
            se = sqrt(variance / (count * base_mean^2)
                      + mean^2 * base_variance / (base_count * base_mean^4)).
        Null when a count is below 2 (no variance) or, for the relative lift, base_mean = 0.
        z defaults to var readout_z.
    -#}
    {%- if bound not in ('lower', 'upper') -%}
        {{ exceptions.raise_compiler_error("difference_interval: bound must be 'lower' or 'upper'") }}
    {%- endif -%}
    {%- set z_value = var('readout_z') if z is none else z -%}
    {%- set sign = '-' if bound == 'lower' else '+' -%}
    case
        when {{ count }} >= 2 and {{ base_count }} >= 2
            {%- if relative %} and {{ base_mean }} != 0{% endif %}
            then
            {%- if relative %}
                ({{ mean }} - {{ base_mean }}) / {{ base_mean }}
                {{ sign }} {{ z_value }} * sqrt(
                    {{ variance }} / ({{ count }} * {{ base_mean }} * {{ base_mean }})
                    + {{ mean }} * {{ mean }} * {{ base_variance }}
                    / ({{ base_count }} * power({{ base_mean }}, 4))
                )
            {%- else %}
                {{ mean }} - {{ base_mean }}
                {{ sign }} {{ z_value }} * sqrt(
                    {{ variance }} / {{ count }} + {{ base_variance }} / {{ base_count }}
                )
            {%- endif %}
    end
{%- endmacro %}
