with

sends as (

    select * from {{ ref('int_email_sends_summarized_to_send') }}

),

-- Only sends that logged the probability of their assignment can be reweighted.
logged_sends as (

    select
        campaign_id,
        treatment,
        -- doubles: staging keeps propensity as the target's default float (32-bit on DuckDB)
        cast(propensity as {{ type_float64() }}) as propensity,
        cast(case when has_click then 1 else 0 end as {{ type_float64() }}) as reward

    from sends
    where propensity is not null

),

campaign_sizes as (

    select
        campaign_id,
        count(*) as logged_send_count

    from logged_sends
    group by campaign_id

),

-- Sums of the importance weights w = 1 / propensity, and of w * reward, w^2, w^2 * reward
-- (reward is 0/1, so reward^2 = reward).
arm_sums as (

    select
        campaign_id,
        treatment,
        count(*) as arm_logged_send_count,
        sum(1.0 / propensity) as sum_weight,
        sum(reward / propensity) as sum_weighted_reward,
        sum(1.0 / (propensity * propensity)) as sum_squared_weight,
        sum(reward / (propensity * propensity)) as sum_squared_weighted_reward

    from logged_sends
    group by campaign_id, treatment

),

-- IPS: mean over all n logged sends of the campaign of z = [arm] * reward / propensity.
-- SNIPS: sum(w * reward) / sum(w) over the arm's sends.
estimates as (

    select
        arm_sums.campaign_id,
        arm_sums.treatment,
        campaign_sizes.logged_send_count,
        arm_sums.arm_logged_send_count,
        arm_sums.sum_squared_weighted_reward,
        arm_sums.sum_squared_weight,
        arm_sums.sum_weight,
        arm_sums.sum_weighted_reward / campaign_sizes.logged_send_count as ips_ctr,
        arm_sums.sum_weighted_reward / arm_sums.sum_weight as snips_ctr

    from arm_sums
    inner join campaign_sizes
        on arm_sums.campaign_id = campaign_sizes.campaign_id

),

-- Standard errors: IPS from the sample variance of z,
-- (sum z^2 - n * ips^2) / (n - 1) / n; SNIPS by the delta method,
-- sqrt(sum w^2 (reward - snips)^2) / sum w.
standard_errors as (

    select
        campaign_id,
        treatment,
        logged_send_count,
        arm_logged_send_count,
        ips_ctr,
        snips_ctr,
        {{ off_policy_standard_errors() }}

    from estimates

),

intervals as (

    select
        campaign_id,
        treatment,
        logged_send_count,
        arm_logged_send_count,
        ips_ctr,
        ips_standard_error,
        case
            when ips_standard_error is not null
                then greatest(0.0, ips_ctr - {{ var('readout_z') }} * ips_standard_error)
        end as ips_ctr_lower,
        ips_ctr + {{ var('readout_z') }} * ips_standard_error as ips_ctr_upper,
        snips_ctr,
        snips_standard_error,
        greatest(0.0, snips_ctr - {{ var('readout_z') }} * snips_standard_error)
            as snips_ctr_lower,
        least(1.0, snips_ctr + {{ var('readout_z') }} * snips_standard_error)
            as snips_ctr_upper

    from standard_errors

),

final as (

    select * from intervals

)

select * from final
