with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

logged_sends as (

    select * from {{ ref('int_email_sends_joined_to_strategy') }}

),

-- The bandit arm's sends: each strategy was drawn with its logged P(strategy | context).
bandit_sends as (

    select
        campaign_id,
        strategy,
        strategy_propensity as propensity,
        cast(case when has_click then 1 else 0 end as {{ type_float64() }}) as reward

    from logged_sends
    where arm = 'bandit'

),

campaign_sizes as (

    select
        campaign_id,
        count(*) as logged_send_count

    from bandit_sends
    group by campaign_id

),

-- Sums of the importance weights w = 1 / propensity, w * reward, w^2 and w^2 * reward
-- (reward is 0/1, so reward^2 = reward).
strategy_sums as (

    select
        campaign_id,
        strategy,
        count(*) as strategy_send_count,
        sum(reward) as clicked_send_count,
        avg(propensity) as mean_propensity,
        sum(1.0 / propensity) as sum_weight,
        sum(reward / propensity) as sum_weighted_reward,
        sum(1.0 / (propensity * propensity)) as sum_squared_weight,
        sum(reward / (propensity * propensity)) as sum_squared_weighted_reward

    from bandit_sends
    group by campaign_id, strategy

),

-- IPS: mean over the campaign's n bandit sends of z = [strategy] * reward / propensity.
-- SNIPS: sum(w * reward) / sum(w) over the strategy's sends.
estimates as (

    select
        strategy_sums.campaign_id,
        strategy_sums.strategy,
        campaign_sizes.logged_send_count,
        strategy_sums.strategy_send_count,
        strategy_sums.clicked_send_count,
        strategy_sums.mean_propensity,
        strategy_sums.sum_weight,
        strategy_sums.sum_squared_weight,
        strategy_sums.sum_squared_weighted_reward,
        strategy_sums.sum_weighted_reward / campaign_sizes.logged_send_count as ips_ctr,
        strategy_sums.sum_weighted_reward / strategy_sums.sum_weight as snips_ctr

    from strategy_sums
    inner join campaign_sizes
        on strategy_sums.campaign_id = campaign_sizes.campaign_id

),

-- Standard errors: IPS from the sample variance of z, (sum z^2 - n * ips^2) / (n - 1) / n;
-- SNIPS by the delta method, sqrt(sum w^2 (reward - snips)^2) / sum w.
standard_errors as (

    select
        *,
        {{ off_policy_standard_errors() }}

    from estimates

),

final as (

    select
        campaign_id,
        strategy,
        logged_send_count,
        strategy_send_count,
        cast(clicked_send_count as {{ dbt.type_bigint() }}) as clicked_send_count,
        clicked_send_count / strategy_send_count as observed_ctr,
        mean_propensity,
        ips_ctr,
        case
            when ips_standard_error is not null
                then greatest(0.0, ips_ctr - {{ var('readout_z') }} * ips_standard_error)
        end as ips_ctr_lower,
        ips_ctr + {{ var('readout_z') }} * ips_standard_error as ips_ctr_upper,
        snips_ctr,
        greatest(0.0, snips_ctr - {{ var('readout_z') }} * snips_standard_error)
            as snips_ctr_lower,
        least(1.0, snips_ctr + {{ var('readout_z') }} * snips_standard_error)
            as snips_ctr_upper,
        (select as_of.as_of_date from as_of) as as_of_date

    from standard_errors

)

select * from final
