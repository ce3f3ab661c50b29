-- Customers as of as_of, one row per clean customer created before as_of (or with no creation
-- time): every scoring model reads customers through here.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

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
        and (created_at is null or cast(created_at as date) < (select as_of.as_of_date from as_of))

)

select * from final
