with

source as (

    select * from {{ source('shop', 'order_lines') }}

),

renamed as (

    select
        -- keys
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(line_number as {{ dbt.type_bigint() }}) as line_number,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,

        -- measures (implausible values, NaN or infinite included, are flagged and read as null)
        case
            when {{ is_within('quantity', 'max_line_quantity') }}
                then cast(quantity as {{ dbt.type_bigint() }})
        end as quantity,
        case
            when {{ is_within('unit_price', 'max_price_usd') }}
                then cast(unit_price as {{ dbt.type_numeric() }})
        end as unit_price_usd,

        -- quality flags
        row_number() over (
            partition by order_id, line_number order by sku
        ) > 1 as is_duplicate,
        not coalesce({{ is_within('quantity', 'max_line_quantity') }}, false)
            as is_invalid_quantity,
        not coalesce({{ is_within('unit_price', 'max_price_usd') }}, false) as is_invalid_price

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_invalid_quantity or is_invalid_price as is_dirty

    from renamed

)

select * from flagged
