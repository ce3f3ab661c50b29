-- The readout accounts for every clean send dated before as_of, once: per campaign, the sends
-- of its arms add up to the clean sends in staging. Returns the campaigns that disagree.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

readout as (

    select * from {{ ref('rpt_experiment_readout') }}

),

sends as (

    select * from {{ ref('stg_email__sends') }}

),

readout_sends as (

    select
        campaign_id,
        sum(send_count) as readout_send_count

    from readout
    group by campaign_id

),

staged_sends as (

    select
        campaign_id,
        count(*) as staged_send_count

    from sends
    where
        not is_dirty
        and cast(sent_at as date) < (select as_of.as_of_date from as_of)
    group by campaign_id

),

compared as (

    select
        coalesce(staged_sends.campaign_id, readout_sends.campaign_id) as campaign_id,
        coalesce(staged_sends.staged_send_count, 0) as staged_send_count,
        coalesce(readout_sends.readout_send_count, 0) as readout_send_count

    from staged_sends
    full outer join readout_sends
        on staged_sends.campaign_id = readout_sends.campaign_id

),

final as (

    select * from compared
    where staged_send_count <> readout_send_count

)

select * from final
