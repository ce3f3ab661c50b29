-- What the backtest's population bought after the cut-off, one row per completed, clean order
-- line dated in [as_of, as_of + var backtest_horizon_days): the outcome every strategy's
-- recommendations made as of the cut-off are scored against. is_rebuy: the customer bought the
-- SKU before the cut-off (a re-buy line; the others are new-item lines).
-- The only models that read past the cut-off are the backtest's; the scoring never reads this.
{% set horizon_days = var('backtest_horizon_days') %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

population as (

    select * from {{ ref('int_customers_filtered_to_opted_in_owners') }}

),

prior_skus as (

    select * from {{ ref('int_customer_products_bought_before_backtest') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

completed_lines as (

    select
        orders.customer_id,
        orders.ordered_at,
        order_lines.order_id,
        order_lines.line_number,
        order_lines.sku,
        -- exact (decimal) revenue: its sums do not depend on the order rows are added in
        order_lines.quantity * order_lines.unit_price_usd as revenue_usd

    from order_lines
    inner join orders on order_lines.order_id = orders.order_id
    inner join population on orders.customer_id = population.customer_id
    where
        not order_lines.is_dirty
        and not orders.is_dirty
        and orders.order_status = 'completed'

),

horizon_lines as (

    select
        completed_lines.customer_id,
        completed_lines.order_id,
        completed_lines.line_number,
        completed_lines.sku,
        completed_lines.revenue_usd,
        prior_skus.sku is not null as is_rebuy

    from completed_lines
    cross join as_of
    inner join products on completed_lines.sku = products.sku
    left join prior_skus
        on
            completed_lines.customer_id = prior_skus.customer_id
            and completed_lines.sku = prior_skus.sku
    where
        not products.is_dirty
        and completed_lines.ordered_at >= cast(as_of.as_of_date as {{ dbt.type_timestamp() }})
        and completed_lines.ordered_at < cast(
            {{ dbt.dateadd('day', horizon_days, 'as_of.as_of_date') }}
            as {{ dbt.type_timestamp() }}
        )

)

select * from horizon_lines
