{% macro elapsed_bin(days, bin_starts) -%}
    {#-
        The lower edge of the bin a number of days falls in, given the bins' lower edges
        (ascending, the first 0): days 45 with edges [0, 30, 60] -> 30. Null days give null.
    -#}
    case
        {%- for bin_start in bin_starts | sort | reverse %}
            when {{ days }} >= {{ bin_start }} then {{ bin_start }}
        {%- endfor %}
    end
{%- endmacro %}
