-- Completed purchase lines before as_of, from clean orders, lines, products and customers.
-- Everything the scoring reads about purchases goes through here, so the cut-off is in one place.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

completed_orders as (

    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as ordered_date

    from orders
    where
        not is_dirty
        and order_status = 'completed'
        and cast(ordered_at as date) < (select as_of.as_of_date from as_of)

),

clean_lines as (

    select
        order_id,
        line_number,
        sku,
        vehicle_id,
        quantity,
        unit_price_usd

    from order_lines
    where not is_dirty

),

clean_products as (

    select sku from products
    where not is_dirty

),

clean_customers as (

    select customer_id from customers
    where not is_dirty

),

joined as (

    select
        clean_lines.order_id,
        clean_lines.line_number,
        completed_orders.customer_id,
        clean_lines.sku,
        -- a line vehicle that is not a known vehicle is treated as not given
        vehicles.vehicle_id,
        completed_orders.ordered_at,
        completed_orders.ordered_date,
        clean_lines.quantity,
        clean_lines.unit_price_usd,
        clean_lines.quantity * clean_lines.unit_price_usd as revenue_usd

    from clean_lines
    inner join completed_orders on clean_lines.order_id = completed_orders.order_id
    inner join clean_products on clean_lines.sku = clean_products.sku
    inner join clean_customers on completed_orders.customer_id = clean_customers.customer_id
    left join vehicles on clean_lines.vehicle_id = vehicles.vehicle_id

),

final as (

    select * from joined

)

select * from final
