with

source as (

    select * from {{ source('shop', 'products') }}

),

renamed as (

    select
        -- keys
        cast(sku as {{ dbt.type_string() }}) as sku,

        -- attributes
        cast(name as {{ dbt.type_string() }}) as product_name,
        cast(brand as {{ dbt.type_string() }}) as brand,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(department as {{ dbt.type_string() }}) as department,
        cast(image_url as {{ dbt.type_string() }}) as image_url,
        cast(product_url as {{ dbt.type_string() }}) as product_url,

        -- measures (an implausible price, NaN or infinite included, is flagged and read as null)
        case
            when {{ is_within('price', 'max_price_usd') }}
                then cast(price as {{ dbt.type_numeric() }})
        end as price_usd,

        -- flags
        coalesce(cast(is_active as {{ dbt.type_boolean() }}), false) as is_active,
        coalesce(cast(is_universal as {{ dbt.type_boolean() }}), false) as is_universal,

        -- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        -- quality flags
        row_number() over (partition by sku order by created_at, name) > 1 as is_duplicate,
        not coalesce({{ is_within('price', 'max_price_usd') }}, false) as is_invalid_price,
        coalesce(
            department not in ({{ quoted_list(var('departments')) }}), true
        ) as is_unknown_department

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_invalid_price or is_unknown_department as is_dirty

    from renamed

)

select * from flagged
