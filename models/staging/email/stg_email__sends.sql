with

source as (

    select * from {{ source('email', 'email_sends') }}

),

renamed as (

    select
        -- keys
        cast(send_id as {{ dbt.type_string() }}) as send_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        -- experiment
        cast(treatment as {{ dbt.type_string() }}) as treatment,
        cast(model_version as {{ dbt.type_string() }}) as model_version,
        cast(propensity as {{ type_float64() }}) as propensity,

        -- timestamps
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,

        -- quality flags
        row_number() over (partition by send_id order by sent_at) > 1 as is_duplicate,
        coalesce(propensity <= 0 or propensity > 1, false) as is_invalid_propensity,
        -- later than the build's clock: a bad timestamp, never a real event
        coalesce(sent_at > {{ dbt.current_timestamp() }}, false) as is_future_dated

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_invalid_propensity or is_future_dated as is_dirty

    from renamed

)

select * from flagged
