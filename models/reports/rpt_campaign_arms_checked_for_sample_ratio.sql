-- Sample-ratio check, one row per (campaign, arm) of the product's assignment log: did each arm
-- get the share of customers its weight planned? A mismatch (a bug in the assignment, customers
-- lost on the way to one arm) biases every comparison of the arms, so it is checked first.
-- Per campaign, with n customers assigned and planned shares p(arm) (the logged arm_propensity):
--   expected(arm) = n * p(arm);  chi_square = sum over arms of (assigned - expected)^2 / expected
-- An arm planned but never drawn counts with 0 assigned (its share is what the logged shares
-- leave of 1). degrees of freedom = planned arms - 1; the campaign is flagged when chi_square
-- exceeds the critical value of var sample_ratio_alpha (seed chi_square_critical_values).
with

assignments as (

    select * from {{ ref('stg_bandit__assignments') }}

),

critical_values as (

    select * from {{ ref('chi_square_critical_values') }}

),

arm_counts as (

    select
        campaign_id,
        arm,
        count(*) as assigned_count,
        avg(arm_propensity) as planned_share

    from assignments
    where not is_dirty
    group by campaign_id, arm

),

campaign_totals as (

    select
        campaign_id,
        -- bigint on both engines (DuckDB sums integers into a 128-bit integer): the contract
        cast(sum(assigned_count) as {{ dbt.type_bigint() }}) as campaign_assigned_count,
        count(*) as assigned_arm_count,
        greatest(1 - sum(planned_share), 0) as unassigned_share

    from arm_counts
    group by campaign_id

),

arm_terms as (

    select
        arm_counts.campaign_id,
        arm_counts.arm,
        arm_counts.assigned_count,
        arm_counts.planned_share,
        campaign_totals.campaign_assigned_count * arm_counts.planned_share as expected_count,
        power(
            arm_counts.assigned_count
            - campaign_totals.campaign_assigned_count * arm_counts.planned_share,
            2
        ) / (campaign_totals.campaign_assigned_count * arm_counts.planned_share)
            as chi_square_term

    from arm_counts
    inner join campaign_totals on arm_counts.campaign_id = campaign_totals.campaign_id

),

-- planned arms that drew nobody: the share the logged arms leave (rounding aside)
missing_arm_terms as (

    select
        campaign_id,
        1 as missing_arm_count,
        campaign_assigned_count * unassigned_share as chi_square_term

    from campaign_totals
    where unassigned_share > 0.000001

),

campaign_statistics as (

    select
        campaign_totals.campaign_id,
        campaign_totals.campaign_assigned_count,
        sum(arm_terms.chi_square_term) + coalesce(max(missing_arm_terms.chi_square_term), 0)
            as chi_square,
        campaign_totals.assigned_arm_count + coalesce(max(missing_arm_terms.missing_arm_count), 0)
        - 1 as degrees_of_freedom

    from campaign_totals
    inner join arm_terms on campaign_totals.campaign_id = arm_terms.campaign_id
    left join missing_arm_terms on campaign_totals.campaign_id = missing_arm_terms.campaign_id
    group by
        campaign_totals.campaign_id,
        campaign_totals.campaign_assigned_count,
        campaign_totals.assigned_arm_count

),

checked as (

    select
        arm_terms.campaign_id,
        arm_terms.arm,
        arm_terms.assigned_count,
        arm_terms.planned_share,
        arm_terms.expected_count,
        arm_terms.chi_square_term,
        campaign_statistics.campaign_assigned_count,
        campaign_statistics.chi_square,
        campaign_statistics.degrees_of_freedom,
        critical_values.critical_value,
        coalesce(campaign_statistics.chi_square > critical_values.critical_value, false)
            as is_sample_ratio_mismatch

    from arm_terms
    inner join campaign_statistics on arm_terms.campaign_id = campaign_statistics.campaign_id
    left join critical_values
        on
            campaign_statistics.degrees_of_freedom = critical_values.degrees_of_freedom
            and critical_values.alpha = {{ var('sample_ratio_alpha') }}

),

final as (

    select * from checked

)

select * from final
