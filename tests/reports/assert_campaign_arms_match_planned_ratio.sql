-- Sample-ratio mismatch: warns (does not stop the build) when a campaign's assigned counts per
-- arm differ from the planned arm weights with p < var sample_ratio_alpha. Every comparison of
-- that campaign's arms is then suspect until the cause is found. Returns the campaigns flagged.
{{ config(severity='warn') }}
select distinct
    campaign_id,
    campaign_assigned_count,
    chi_square,
    degrees_of_freedom,
    critical_value

from {{ ref('rpt_campaign_arms_checked_for_sample_ratio') }}
where is_sample_ratio_mismatch
