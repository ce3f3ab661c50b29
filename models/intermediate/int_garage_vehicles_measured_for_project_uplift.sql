{{ config(materialized='table') }}
-- Project uplift, one row per days-in-garage bin: how many times the average garage vehicle's
-- purchases a customer makes for a vehicle within the next var purchase_horizon_days (H) when
-- they saved it to their garage that many days ago. A vehicle just added is often a new
-- project (a car bought, a restoration started), bought for far more than one kept for years.
-- Learned by replaying the question at earlier cut-offs, the folds as_of - H, as_of - 2H, ...
-- (var garage_uplift_folds): at each fold date, every garage vehicle saved before it is one
-- observation, in the bin of its days in the garage (var garage_uplift_bin_days), counting the
-- customer's completed lines for that vehicle (the vehicle chosen on the order line) in
-- [fold date, fold date + H). Each bin is shrunk toward the average (k = var
-- garage_uplift_prior_strength observations):
--   uplift(bin) = (lines(bin) + k * mean) / (observations(bin) + k) / mean
-- with mean = lines per observation over all bins; no data or no structure gives 1.
{% set horizon = var('purchase_horizon_days') | int %}
{% set prior = var('garage_uplift_prior_strength') %}
{% set bin_starts = var('garage_uplift_bin_days') | sort %}
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

folds as (

    {{ horizon_folds(
        '(select as_of.as_of_date from as_of)', var('garage_uplift_folds'), horizon
    ) }}

),

days_bins as (

    {% for bin_start in bin_starts %}
        select {{ bin_start }} as days_in_garage_bin_start
        {% if not loop.last %}
            union all
        {% endif %}
    {% endfor %}

),

-- per fold, every garage vehicle saved before the fold date
observations as (

    select
        folds.fold_number,
        owned.customer_id,
        owned.vehicle_id,
        {{ elapsed_bin(
            dbt.datediff('owned.added_to_garage_date', 'folds.fold_date', 'day'), bin_starts
        ) }} as days_in_garage_bin_start

    from owned
    inner join folds on owned.added_to_garage_date < folds.fold_date

),

-- per fold and (customer, vehicle): the lines bought for it within the fold's horizon
fold_lines as (

    select
        folds.fold_number,
        purchase_lines.customer_id,
        purchase_lines.vehicle_id,
        count(*) as lines_within_horizon

    from purchase_lines
    inner join folds
        on
            purchase_lines.ordered_date >= folds.fold_date
            and purchase_lines.ordered_date < folds.fold_end_date
    where purchase_lines.vehicle_id is not null
    group by
        folds.fold_number,
        purchase_lines.customer_id,
        purchase_lines.vehicle_id

),

observed as (

    select
        observations.days_in_garage_bin_start,
        coalesce(fold_lines.lines_within_horizon, 0) as lines_within_horizon

    from observations
    left join fold_lines
        on
            observations.fold_number = fold_lines.fold_number
            and observations.customer_id = fold_lines.customer_id
            and observations.vehicle_id = fold_lines.vehicle_id

),

overall as (

    select
        count(*) as observations,
        sum(lines_within_horizon) as lines_within_horizon

    from observed

),

per_bin as (

    select
        days_in_garage_bin_start,
        count(*) as observations,
        sum(lines_within_horizon) as lines_within_horizon

    from observed
    group by days_in_garage_bin_start

),

-- null when there are no lines at all (then every uplift is 1)
mean_rate as (

    select
        nullif(cast(lines_within_horizon as {{ type_float64() }}), 0)
        / nullif(observations, 0) as lines_per_observation

    from overall

),

measured as (

    select
        days_bins.days_in_garage_bin_start,
        coalesce(per_bin.observations, 0) as observations,
        coalesce(per_bin.lines_within_horizon, 0) as lines_within_horizon,
        coalesce(
            (
                coalesce(per_bin.lines_within_horizon, 0)
                + {{ prior }} * mean_rate.lines_per_observation
            )
            / (coalesce(per_bin.observations, 0) + {{ prior }})
            / mean_rate.lines_per_observation,
            1.0
        ) as project_uplift

    from days_bins
    cross join mean_rate
    left join per_bin on days_bins.days_in_garage_bin_start = per_bin.days_in_garage_bin_start

),

final as (

    select * from measured

)

select * from final
