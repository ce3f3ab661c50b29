with

source as (

    select * from {{ source('email', 'email_events') }}

),

renamed as (

    select
        -- keys
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(send_id as {{ dbt.type_string() }}) as send_id,
        cast(sku as {{ dbt.type_string() }}) as sku,

        -- attributes
        cast(event_type as {{ dbt.type_string() }}) as event_type,

        -- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        -- quality flags
        row_number() over (partition by event_id order by occurred_at) > 1 as is_duplicate,
        coalesce(event_type not in ({{ quoted_list(var('event_types')) }}), true)
            as is_unknown_event_type,
        -- later than the build's clock: a bad timestamp, never a real event
        coalesce(occurred_at > {{ dbt.current_timestamp() }}, false) as is_future_dated

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_unknown_event_type or is_future_dated as is_dirty

    from renamed

)

select * from flagged
