with

source as (

    select * from {{ source('email', 'email_send_items') }}

),

renamed as (

    select
        -- keys
        cast(send_id as {{ dbt.type_string() }}) as send_id,
        cast(position as {{ dbt.type_bigint() }}) as item_position,
        cast(sku as {{ dbt.type_string() }}) as sku,

        -- quality flags
        row_number() over (partition by send_id, position order by sku) > 1 as is_duplicate

    from source

),

flagged as (

    select
        *,
        is_duplicate as is_dirty

    from renamed

)

select * from flagged
