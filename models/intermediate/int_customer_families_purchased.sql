-- Variant families each customer already bought (completed lines before as_of, any member SKU),
-- one row per (customer, family): eligibility excludes them unless a re-buy is due.
with

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

final as (

    select
        purchase_lines.customer_id,
        families.family_id,
        max(purchase_lines.ordered_date) as last_purchased_date

    from purchase_lines
    inner join families on purchase_lines.sku = families.sku
    group by purchase_lines.customer_id, families.family_id

)

select * from final
