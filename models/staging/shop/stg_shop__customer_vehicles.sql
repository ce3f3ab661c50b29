with

source as (

    select * from {{ source('shop', 'customer_vehicles') }}

),

renamed as (

    select
        -- keys
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,

        -- timestamps
        cast(added_at as {{ dbt.type_timestamp() }}) as added_at,

        -- quality flags
        row_number() over (
            partition by customer_id, vehicle_id order by added_at
        ) > 1 as is_duplicate,
        customer_id is null or vehicle_id is null as is_missing_key,
        -- later than the build's clock: a bad timestamp, never a real event
        coalesce(added_at > {{ dbt.current_timestamp() }}, false) as is_future_dated

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_missing_key or is_future_dated as is_dirty

    from renamed

)

select * from flagged
