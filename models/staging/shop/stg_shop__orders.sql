with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        -- keys
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,

        -- attributes
        cast(status as {{ dbt.type_string() }}) as order_status,

        -- timestamps
        cast(ordered_at as {{ dbt.type_timestamp() }}) as ordered_at,

        -- quality flags
        -- copies of an order: the latest ordered_at is kept; on a tie, the status listed first
        -- in var order_statuses (completed, cancelled, returned), never the alphabetical one
        row_number() over (
            partition by order_id
            order by
                ordered_at desc nulls last,
                case status
                    {%- for known in var('order_statuses') %}
                        when '{{ known }}' then {{ loop.index }}
                    {%- endfor %}
                    else {{ var('order_statuses') | length + 1 }}
                end,
                status
        ) > 1 as is_duplicate,
        coalesce(status not in ({{ quoted_list(var('order_statuses')) }}), true)
            as is_unknown_status,
        ordered_at is null as is_missing_timestamp,
        -- later than the build's clock: a bad timestamp, never a real event
        coalesce(ordered_at > {{ dbt.current_timestamp() }}, false) as is_future_dated

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_unknown_status or is_missing_timestamp or is_future_dated
            as is_dirty

    from renamed

)

select * from flagged
