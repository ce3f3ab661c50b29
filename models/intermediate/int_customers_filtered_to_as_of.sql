-- Customers as of as_of, one row per clean customer created before as_of (or with no creation
-- time): every scoring model reads customers through here.
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

final as (

    select
        customer_id,
        email,
        is_email_opt_in,
        created_at,
        is_dirty

    from customers
    where
        not is_dirty
        and (created_at is null or cast(created_at as date) < {{ as_of_date() }})

)

select * from final
