{% macro off_policy_standard_errors() -%}
    {#-
        Two select expressions, `ips_standard_error` and `snips_standard_error`, over a relation
        with the sums of an inverse-propensity estimate: logged_send_count (n), sum_weight,
        sum_squared_weight, sum_squared_weighted_reward, ips_ctr and snips_ctr.
        IPS from the sample variance of z = w * reward: (sum z^2 - n * ips^2) / (n - 1) / n;
        SNIPS by the delta method: sqrt(sum w^2 (reward - snips)^2) / sum w, expanded with
        reward in {0, 1} so that it needs only the sums.
    -#}
    case
        when logged_send_count > 1
            then sqrt(
                greatest(
                    0.0,
                    (
                        sum_squared_weighted_reward
                        - logged_send_count * ips_ctr * ips_ctr
                    ) / (logged_send_count - 1)
                ) / logged_send_count
            )
    end as ips_standard_error,
    sqrt(
        greatest(
            0.0,
            sum_squared_weighted_reward * (1.0 - 2.0 * snips_ctr)
            + snips_ctr * snips_ctr * sum_squared_weight
        )
    ) / sum_weight as snips_standard_error
{%- endmacro %}
