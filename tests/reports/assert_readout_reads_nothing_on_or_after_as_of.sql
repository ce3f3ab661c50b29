-- Guardrail for backtests: no send in the readout is dated on or after as_of.
select
    campaign_id,
    treatment,
    last_sent_at,
    as_of_date

from {{ ref('rpt_experiment_readout') }}
where cast(last_sent_at as date) >= as_of_date
