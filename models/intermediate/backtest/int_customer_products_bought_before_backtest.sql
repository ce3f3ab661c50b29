-- The backtest population's purchase history, one row per (customer, SKU) bought before the
-- cut-off (completed order, clean line): what makes a line in the horizon, or a candidate, a
-- re-buy rather than a new item.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

population as (

    select * from {{ ref('int_customers_filtered_to_opted_in_owners') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

bought as (

    select distinct
        orders.customer_id,
        order_lines.sku

    from order_lines
    inner join orders on order_lines.order_id = orders.order_id
    inner join population on orders.customer_id = population.customer_id
    cross join as_of
    where
        not order_lines.is_dirty
        and not orders.is_dirty
        and orders.order_status = 'completed'
        and orders.ordered_at < cast(as_of.as_of_date as {{ dbt.type_timestamp() }})

)

select * from bought
