{#-
    The log is read only when the target's log var is set (see _bandit__sources.yml); otherwise
    an empty relation with the same columns keeps every downstream model building. The source is
    named outside the `if` so that lineage always shows it (naming a relation does not read it).
-#}
{%- set log_location = var('assignment_log_dataset') if target.type == 'bigquery'
    else var('assignment_log_dir') -%}
{%- set assignment_log = source('bandit', 'assignment_log') -%}

with

source as (

    {% if log_location %}
        select * from {{ assignment_log }}
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as campaign_id,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as arm,
            cast(null as {{ dbt.type_string() }}) as strategy,
            cast(null as {{ dbt.type_string() }}) as context,
            cast(null as {{ type_float64() }}) as arm_propensity,
            cast(null as {{ type_float64() }}) as strategy_propensity,
            cast(null as {{ type_float64() }}) as propensity,
            cast(null as {{ dbt.type_timestamp() }}) as assigned_at

        -- a one-row relation filtered to none: portable (BigQuery needs a from for a where)
        from (select 1 as placeholder) as no_log
        where no_log.placeholder = 0
    {% endif %}

),

renamed as (

    select
        -- keys
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        -- assignment
        cast(arm as {{ dbt.type_string() }}) as arm,
        cast(strategy as {{ dbt.type_string() }}) as strategy,
        cast(context as {{ dbt.type_string() }}) as context,
        cast(arm_propensity as {{ type_float64() }}) as arm_propensity,
        cast(strategy_propensity as {{ type_float64() }}) as strategy_propensity,
        cast(propensity as {{ type_float64() }}) as propensity,

        -- timestamps
        cast(assigned_at as {{ dbt.type_timestamp() }}) as assigned_at,

        -- quality flags
        row_number() over (
            partition by campaign_id, customer_id
            order by assigned_at desc
        ) > 1 as is_duplicate,
        -- control rows have no strategy: a null strategy propensity is fine
        coalesce(arm_propensity <= 0 or arm_propensity > 1, true)
        or coalesce(strategy_propensity <= 0 or strategy_propensity > 1, false)
            as is_invalid_propensity

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_invalid_propensity as is_dirty

    from renamed

)

select * from flagged
