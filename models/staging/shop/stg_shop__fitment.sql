with

source as (

    select * from {{ source('shop', 'fitment') }}

),

renamed as (

    select
        -- keys
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,

        -- quality flags
        row_number() over (partition by sku, vehicle_id order by sku) > 1 as is_duplicate,
        sku is null or vehicle_id is null as is_missing_key

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_missing_key as is_dirty

    from renamed

)

select * from flagged
