-- Category taste, one row per (customer, category they bought in the look-back window): how
-- much more of their buying goes to the category than owners of their vehicles' does,
--   taste = (their lines in it + b * expected share) / ((their lines + b) * expected share)
-- b = var category_taste_prior_strength. The expected share is the category's share of what
-- owners of the customer's vehicles buy, weighted by how much the customer buys for each
-- (int_customer_vehicles_measured_for_activity); a vehicle's mix is shrunk toward the catalog's
-- with var vehicle_category_prior_strength lines, and a customer without a vehicle expects the
-- catalog's mix. 1 = as expected; categories they never bought get
-- int_customers_measured_for_habits.unbought_category_taste.
{% set lookback = var('lookback_days') | int %}
{% set vehicle_prior = var('vehicle_category_prior_strength') %}
{% set taste_prior = var('category_taste_prior_strength') %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

attributed as (

    select * from {{ ref('int_purchases_attributed_to_vehicle') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

activities as (

    select * from {{ ref('int_customer_vehicles_measured_for_activity') }}

),

customer_categories as (

    select
        purchase_lines.customer_id,
        products.category,
        count(*) as category_line_count

    from purchase_lines
    inner join products on purchase_lines.sku = products.sku
    where
        purchase_lines.ordered_date >= cast({{ dbt.dateadd(
            'day', -lookback, '(select as_of.as_of_date from as_of)'
        ) }} as date)
    group by purchase_lines.customer_id, products.category

),

customer_lines as (

    select
        customer_id,
        sum(category_line_count) as line_count

    from customer_categories
    group by customer_id

),

catalog_shares as (

    select
        category,
        cast(sum(category_line_count) as {{ type_float64() }})
        / (select sum(all_lines.category_line_count) from customer_categories as all_lines)
            as catalog_share

    from customer_categories
    group by category

),

vehicle_category_lines as (

    select
        attributed.vehicle_id,
        products.category,
        sum(attributed.weight) as category_lines

    from attributed
    inner join products on attributed.sku = products.sku
    group by attributed.vehicle_id, products.category

),

vehicle_lines as (

    select
        vehicle_id,
        sum(category_lines) as vehicle_lines

    from vehicle_category_lines
    group by vehicle_id

),

-- the share owners of each of the customer's vehicles give the category, weighted by how much
-- of the customer's own buying is for that vehicle (the weights sum to 1 per customer)
expected_shares as (

    select
        customer_categories.customer_id,
        customer_categories.category,
        sum(
            activities.vehicle_activity / activities.vehicles_owned
            * (
                coalesce(vehicle_category_lines.category_lines, 0)
                + {{ vehicle_prior }} * catalog_shares.catalog_share
            )
            / (coalesce(vehicle_lines.vehicle_lines, 0) + {{ vehicle_prior }})
        ) as expected_share

    from customer_categories
    inner join activities on customer_categories.customer_id = activities.customer_id
    inner join catalog_shares on customer_categories.category = catalog_shares.category
    left join vehicle_category_lines
        on
            activities.vehicle_id = vehicle_category_lines.vehicle_id
            and customer_categories.category = vehicle_category_lines.category
    left join vehicle_lines on activities.vehicle_id = vehicle_lines.vehicle_id
    group by customer_categories.customer_id, customer_categories.category

),

tasted as (

    select
        customer_categories.customer_id,
        customer_categories.category,
        customer_categories.category_line_count,
        customer_lines.line_count,
        coalesce(expected_shares.expected_share, catalog_shares.catalog_share) as expected_share,
        (
            customer_categories.category_line_count
            + {{ taste_prior }}
            * coalesce(expected_shares.expected_share, catalog_shares.catalog_share)
        )
        / (
            (customer_lines.line_count + {{ taste_prior }})
            * coalesce(expected_shares.expected_share, catalog_shares.catalog_share)
        ) as category_taste

    from customer_categories
    inner join customer_lines on customer_categories.customer_id = customer_lines.customer_id
    inner join catalog_shares on customer_categories.category = catalog_shares.category
    left join expected_shares
        on
            customer_categories.customer_id = expected_shares.customer_id
            and customer_categories.category = expected_shares.category

),

final as (

    select * from tasted

)

select * from final
