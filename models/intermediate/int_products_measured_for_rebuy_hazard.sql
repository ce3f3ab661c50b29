{{ config(materialized='table') }}
-- Re-buy hazard, one row per (product bought before as_of, elapsed-time bin): the probability
-- that a customer who last bought the product `elapsed` days ago buys it again within the next
-- var purchase_horizon_days (H). Learned by replaying the same question at earlier cut-offs,
-- the folds as_of - H, as_of - 2H, ... (var rebuy_hazard_folds): at each fold date, every
-- (customer, product) bought before it is one observation, in the bin of its days since the last
-- purchase (var rebuy_elapsed_bin_days), and a re-buy when the customer bought it again in
-- [fold date, fold date + H). Nothing is flagged consumable by hand: oil comes back every few
-- months, brake pads yearly and a crate engine never, because that is what customers did.
-- Each level is shrunk toward its parent, per bin (k = var rebuy_prior_strength observations):
--   p(level) = (re-buys(level) + k * p(parent)) / (observations(level) + k)
-- along all products -> department -> category -> variant family -> SKU, so a SKU with few
-- buyers inherits its family's or category's rhythm.
{% set horizon = var('purchase_horizon_days') | int %}
{% set prior = var('rebuy_prior_strength') %}
{% set bin_starts = var('rebuy_elapsed_bin_days') | sort %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

families as (

    select * from {{ ref('int_products_grouped_to_families') }}

),

folds as (

    {{ horizon_folds(
        '(select as_of.as_of_date from as_of)', var('rebuy_hazard_folds'), horizon
    ) }}

),

elapsed_bins as (

    {% for bin_start in bin_starts %}
        select {{ bin_start }} as elapsed_bin_start
        {% if not loop.last %}
            union all
        {% endif %}
    {% endfor %}

),

purchase_dates as (

    select distinct
        customer_id,
        sku,
        ordered_date

    from purchase_lines

),

-- per fold and (customer, product) bought before the fold date: the last purchase before it,
-- and whether another purchase followed within the horizon
fold_histories as (

    select
        folds.fold_number,
        folds.fold_date,
        purchase_dates.customer_id,
        purchase_dates.sku,
        max(
            case
                when purchase_dates.ordered_date < folds.fold_date
                    then purchase_dates.ordered_date
            end
        ) as last_purchased_date,
        max(case when purchase_dates.ordered_date >= folds.fold_date then 1 else 0 end)
            as is_rebought

    from purchase_dates
    inner join folds on purchase_dates.ordered_date < folds.fold_end_date
    group by
        folds.fold_number,
        folds.fold_date,
        purchase_dates.customer_id,
        purchase_dates.sku

),

observations as (

    select
        sku,
        is_rebought,
        {{ elapsed_bin(
            dbt.datediff('last_purchased_date', 'fold_date', 'day'), bin_starts
        ) }} as elapsed_bin_start

    from fold_histories
    where last_purchased_date is not null

),

sku_counts as (

    select
        sku,
        elapsed_bin_start,
        count(*) as observation_count,
        sum(is_rebought) as rebuy_count

    from observations
    group by sku, elapsed_bin_start

),

-- every product bought before as_of gets every bin, observed or not, with its parents' keys
product_bins as (

    select
        bought.sku,
        families.family_id,
        products.category,
        products.department,
        elapsed_bins.elapsed_bin_start

    from (select distinct sku from purchase_dates) as bought
    inner join products on bought.sku = products.sku
    inner join families on bought.sku = families.sku
    cross join elapsed_bins

),

counted as (

    select
        product_bins.*,
        coalesce(sku_counts.observation_count, 0) as observation_count,
        coalesce(sku_counts.rebuy_count, 0) as rebuy_count

    from product_bins
    left join sku_counts
        on
            product_bins.sku = sku_counts.sku
            and product_bins.elapsed_bin_start = sku_counts.elapsed_bin_start

),

overall_rates as (

    select
        elapsed_bin_start,
        cast(sum(rebuy_count) as {{ type_float64() }}) / nullif(sum(observation_count), 0)
            as overall_probability

    from counted
    group by elapsed_bin_start

),

department_rates as (

    select
        counted.department,
        counted.elapsed_bin_start,
        (
            sum(counted.rebuy_count)
            + {{ prior }} * coalesce(max(overall_rates.overall_probability), 0)
        ) / (sum(counted.observation_count) + {{ prior }}) as department_probability

    from counted
    inner join overall_rates on counted.elapsed_bin_start = overall_rates.elapsed_bin_start
    group by counted.department, counted.elapsed_bin_start

),

category_rates as (

    select
        counted.category,
        counted.elapsed_bin_start,
        (
            sum(counted.rebuy_count)
            + {{ prior }} * max(department_rates.department_probability)
        ) / (sum(counted.observation_count) + {{ prior }}) as category_probability

    from counted
    inner join department_rates
        on
            counted.department = department_rates.department
            and counted.elapsed_bin_start = department_rates.elapsed_bin_start
    group by counted.category, counted.elapsed_bin_start

),

family_rates as (

    select
        counted.family_id,
        counted.elapsed_bin_start,
        (
            sum(counted.rebuy_count)
            + {{ prior }} * max(category_rates.category_probability)
        ) / (sum(counted.observation_count) + {{ prior }}) as family_probability

    from counted
    inner join category_rates
        on
            counted.category = category_rates.category
            and counted.elapsed_bin_start = category_rates.elapsed_bin_start
    group by counted.family_id, counted.elapsed_bin_start

),

smoothed as (

    select
        counted.sku,
        counted.family_id,
        counted.category,
        counted.department,
        counted.elapsed_bin_start,
        counted.observation_count,
        counted.rebuy_count,
        family_rates.family_probability,
        (counted.rebuy_count + {{ prior }} * family_rates.family_probability)
        / (counted.observation_count + {{ prior }}) as rebuy_probability

    from counted
    inner join family_rates
        on
            counted.family_id = family_rates.family_id
            and counted.elapsed_bin_start = family_rates.elapsed_bin_start

),

final as (

    select * from smoothed

)

select * from final
