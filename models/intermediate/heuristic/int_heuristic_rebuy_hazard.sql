{{ config(materialized='table') }}
-- The heuristic's re-buy hazard, one row per (SKU bought before as_of, elapsed-time bin):
-- P(a customer buys the SKU again within var heuristic_horizon_days | days since they last
-- bought it), learned by replaying earlier cut-offs ("folds") T = as_of - j * horizon,
-- j = 1..var heuristic_rebuy_folds. At each T, every (customer, SKU) last bought before T is one
-- observation in the bin of its elapsed days T - last purchase (bins' upper edges: var
-- heuristic_rebuy_bin_ends_days, the last bin open), labelled 1 when the customer bought the SKU
-- again in [T, T + horizon). The latest fold's window ends at as_of: nothing later is read.
-- Each bin's rate backs off SKU -> variant family -> category -> all products:
--   p = (re-buys + m * p_parent) / (observations + m),   m = var heuristic_rebuy_prior_strength,
-- and 'all' is the raw share of the bin. Empty unless heuristic is in var baseline_strategies.
{% set is_built = 'heuristic' in var('baseline_strategies') %}
{% set horizon_days = var('heuristic_horizon_days') | int %}
{% set bin_starts = [0] + var('heuristic_rebuy_bin_ends_days') %}
{% set prior = var('heuristic_rebuy_prior_strength') %}
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

-- the SKUs bought before as_of, read by an import of their own (a CTE read twice is buffered)
purchased_skus as (

    select distinct sku from {{ ref('int_order_lines_filtered_to_completed') }}

),

folds as (

    {% for fold_number in range(1, var('heuristic_rebuy_folds') + 1) %}
        select
            {{ fold_number }} as fold_number,
            cast(
                {{ dbt.dateadd('day', -fold_number * horizon_days, 'as_of_date') }} as date
            ) as fold_date,
            cast(
                {{ dbt.dateadd('day', (1 - fold_number) * horizon_days, 'as_of_date') }} as date
            ) as window_end_date

        from as_of
        {% if not loop.last %}

            union all

        {% endif %}
    {% endfor %}

),

bins as (

    {% for bin_start in bin_starts %}
        select
            {{ bin_start }} as elapsed_bin_start_days,
            {{ bin_starts[loop.index] if not loop.last else 'null' }} as elapsed_bin_end_days
        {% if not loop.last %}

            union all

        {% endif %}
    {% endfor %}

),

-- each purchase line with the date of the customer's next line of the SKU (of several lines of
-- one day, all but one point at that same day, so only one of them is ever observed below)
purchase_sequences as (

    select
        customer_id,
        sku,
        ordered_date,
        lead(ordered_date) over (
            partition by customer_id, sku
            order by ordered_date
        ) as next_purchased_date

    from purchase_lines

),

-- at fold T, a (customer, SKU) is observed at its last purchase before T: the one whose next
-- purchase, if any, is on or after T; it is bought again when that next one falls before T +
-- horizon. One pass with four cheap comparisons per line and fold, no aggregate per pair.
observations as (

    select
        purchase_sequences.sku,
        case
            when purchase_sequences.next_purchased_date < folds.window_end_date then 1
            else 0
        end as is_bought_again,
        {{ dbt.datediff(
            'purchase_sequences.ordered_date', 'folds.fold_date', 'day'
        ) }} as elapsed_days

    from purchase_sequences
    cross join folds
    where
        purchase_sequences.ordered_date < folds.fold_date
        and (
            purchase_sequences.next_purchased_date is null
            or purchase_sequences.next_purchased_date >= folds.fold_date
        )

),

binned as (

    select
        sku,
        is_bought_again,
        case
            {% for bin_start in bin_starts | reverse %}
                when elapsed_days >= {{ bin_start }} then {{ bin_start }}
            {% endfor %}
        end as elapsed_bin_start_days

    from observations

),

product_keys as (

    select
        products.sku,
        families.family_id,
        products.category

    from products
    inner join families on products.sku = families.sku
    where not products.is_dirty

),

sku_counts as (

    select
        binned.sku,
        product_keys.family_id,
        product_keys.category,
        binned.elapsed_bin_start_days,
        count(*) as observations,
        sum(binned.is_bought_again) as rebuys

    from binned
    inner join product_keys on binned.sku = product_keys.sku
    group by
        binned.sku,
        product_keys.family_id,
        product_keys.category,
        binned.elapsed_bin_start_days

),

family_counts as (

    select
        family_id,
        elapsed_bin_start_days,
        sum(observations) as observations,
        sum(rebuys) as rebuys

    from sku_counts
    group by family_id, elapsed_bin_start_days

),

category_counts as (

    select
        category,
        elapsed_bin_start_days,
        sum(observations) as observations,
        sum(rebuys) as rebuys

    from sku_counts
    group by category, elapsed_bin_start_days

),

bin_counts as (

    select
        elapsed_bin_start_days,
        sum(observations) as observations,
        sum(rebuys) as rebuys

    from sku_counts
    group by elapsed_bin_start_days

),

-- every SKU bought before as_of gets every bin (a bin it has no observations in backs off)
grid as (

    select
        product_keys.sku,
        product_keys.family_id,
        product_keys.category,
        bins.elapsed_bin_start_days,
        bins.elapsed_bin_end_days

    from product_keys
    inner join purchased_skus on product_keys.sku = purchased_skus.sku
    cross join bins

),

all_rated as (

    select
        grid.*,
        coalesce(
            cast(bin_counts.rebuys as {{ type_float64() }}) / nullif(bin_counts.observations, 0),
            0
        ) as all_rate,
        coalesce(category_counts.observations, 0) as category_observations,
        coalesce(category_counts.rebuys, 0) as category_rebuys,
        coalesce(family_counts.observations, 0) as family_observations,
        coalesce(family_counts.rebuys, 0) as family_rebuys,
        coalesce(sku_counts.observations, 0) as observations,
        coalesce(sku_counts.rebuys, 0) as rebuys

    from grid
    left join bin_counts on grid.elapsed_bin_start_days = bin_counts.elapsed_bin_start_days
    left join category_counts
        on
            grid.category = category_counts.category
            and grid.elapsed_bin_start_days = category_counts.elapsed_bin_start_days
    left join family_counts
        on
            grid.family_id = family_counts.family_id
            and grid.elapsed_bin_start_days = family_counts.elapsed_bin_start_days
    left join sku_counts
        on
            grid.sku = sku_counts.sku
            and grid.elapsed_bin_start_days = sku_counts.elapsed_bin_start_days

),

category_rated as (

    select
        *,
        (category_rebuys + {{ prior }} * all_rate) / (category_observations + {{ prior }})
            as category_rate

    from all_rated

),

family_rated as (

    select
        *,
        (family_rebuys + {{ prior }} * category_rate) / (family_observations + {{ prior }})
            as family_rate

    from category_rated

),

sku_rated as (

    select
        sku,
        family_id,
        category,
        elapsed_bin_start_days,
        elapsed_bin_end_days,
        observations,
        rebuys,
        category_rate,
        family_rate,
        (rebuys + {{ prior }} * family_rate) / (observations + {{ prior }}) as rebuy_probability

    from family_rated

),

final as (

    select * from sku_rated
    {% if not is_built %}
        where false
    {% endif %}

)

select * from final
