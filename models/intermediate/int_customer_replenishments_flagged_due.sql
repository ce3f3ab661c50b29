-- Due re-buys, one row per (customer, replenishable product) whose next purchase is
-- expected before as_of + var repurchase_window_days, and not more than
-- var replenishment_max_overdue_factor typical intervals ago. Score = var replenishment_weight *
-- the product's smoothed repeat share.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

repurchase as (

    select * from {{ ref('int_products_measured_for_repurchase') }}

),

last_purchases as (

    select
        customer_id,
        sku,
        max(ordered_date) as last_purchased_date

    from purchase_lines
    group by customer_id, sku

),

elapsed as (

    select
        last_purchases.customer_id,
        last_purchases.sku,
        last_purchases.last_purchased_date,
        repurchase.repeat_share,
        repurchase.typical_interval_days,
        {{ dbt.datediff(
            'last_purchases.last_purchased_date', '(select as_of.as_of_date from as_of)', 'day'
        ) }}
            as days_since_purchase

    from last_purchases
    inner join repurchase on last_purchases.sku = repurchase.sku
    where repurchase.is_replenishable

),

due as (

    select
        customer_id,
        sku,
        last_purchased_date,
        days_since_purchase,
        typical_interval_days,
        repeat_share,
        greatest(cast(round(days_since_purchase / 30.44) as {{ dbt.type_bigint() }}), 1)
            as months_since_purchase,
        {{ var('replenishment_weight') }} * repeat_share as score

    from elapsed
    where
        days_since_purchase + {{ var('repurchase_window_days') }} >= typical_interval_days
        and days_since_purchase
        <= typical_interval_days * {{ var('replenishment_max_overdue_factor') }}

),

final as (

    select * from due

)

select * from final
