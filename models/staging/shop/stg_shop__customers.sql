with

source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select
        -- keys
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        -- attributes
        cast(email as {{ dbt.type_string() }}) as email,
        -- consent: opted in only when every raw row of the customer says so (any opt-out, or a
        -- missing answer, on any copy wins over the copy kept for scoring)
        min(
            case
                when coalesce(cast(email_opt_in as {{ dbt.type_boolean() }}), false) then 1
                else 0
            end
        ) over (partition by customer_id) = 1 as is_email_opt_in,

        -- timestamps
        cast(created_at as {{ dbt.type_timestamp() }}) as created_at,

        -- quality flags
        row_number() over (partition by customer_id order by created_at) > 1 as is_duplicate

    from source

),

flagged as (

    select
        *,
        is_duplicate as is_dirty

    from renamed

)

select * from flagged
