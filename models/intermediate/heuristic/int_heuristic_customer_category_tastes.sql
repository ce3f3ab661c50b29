-- The heuristic's category taste, one row per (customer, category they bought from before
-- as_of): how much more than the average line their lines fall in the category, shrunk toward 1
--   taste = (their lines in it + a * p) / (their lines + a) / p
-- with p = the category's share of all completed lines and a = var
-- heuristic_taste_prior_strength. A category they never bought from has a / (lines + a)
-- (int_heuristic_customer_signals.unseen_category_taste). Empty unless heuristic is in var
-- baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
{% set prior = var('heuristic_taste_prior_strength') %}
with

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

customer_category_lines as (

    select
        purchase_lines.customer_id,
        products.category,
        count(*) as category_lines

    from purchase_lines
    inner join products on purchase_lines.sku = products.sku
    group by purchase_lines.customer_id, products.category

),

shares as (

    select
        customer_id,
        category,
        category_lines,
        sum(category_lines) over (partition by customer_id) as customer_lines,
        cast(sum(category_lines) over (partition by category) as {{ type_float64() }})
        / sum(category_lines) over () as category_share

    from customer_category_lines

),

measured as (

    select
        customer_id,
        category,
        category_lines,
        customer_lines,
        category_share,
        (category_lines + {{ prior }} * category_share)
        / (customer_lines + {{ prior }})
        / category_share as taste

    from shares

),

final as (

    select * from measured
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
