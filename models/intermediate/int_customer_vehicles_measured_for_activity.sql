-- Primary vehicle (the customer's own history), one row per (customer, owned vehicle):
-- how much of the customer's attributed buying (int_purchases_attributed_to_vehicle, look-back
-- window) is for this vehicle, shrunk toward an even split over the customer's vehicles:
--   vehicle_share     = (attributed lines for it + b / vehicles owned) / (all attributed + b)
--   vehicle_activity  = vehicle_share * vehicles owned   (1 = an even split)
-- with b = var vehicle_activity_prior_strength (in lines). A one-vehicle customer, or one with
-- no attributed lines, has 1; a vehicle bought for once among many lines for another is < 1.
-- Recency (new projects): project_uplift is how much more customers buy for a vehicle saved to
-- their garage as many days before as_of as this one was (int_garage_vehicles_measured_for_
-- project_uplift); 1 for a vehicle that is not in the garage or has no saved date.
{% set bin_starts = var('garage_uplift_bin_days') | sort %}
{% set prior = var('vehicle_activity_prior_strength') %}
with

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

attributed as (

    select * from {{ ref('int_purchases_attributed_to_vehicle') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

uplifts as (

    select * from {{ ref('int_garage_vehicles_measured_for_project_uplift') }}

),

vehicle_lines as (

    select
        customer_id,
        vehicle_id,
        sum(weight) as attributed_lines

    from attributed
    group by customer_id, vehicle_id

),

owned_lines as (

    select
        owned.customer_id,
        owned.vehicle_id,
        {{ dbt.datediff(
            'owned.added_to_garage_date', '(select as_of.as_of_date from as_of)', 'day'
        ) }} as days_in_garage,
        coalesce(vehicle_lines.attributed_lines, 0) as attributed_lines

    from owned
    left join vehicle_lines
        on
            owned.customer_id = vehicle_lines.customer_id
            and owned.vehicle_id = vehicle_lines.vehicle_id

),

customer_totals as (

    select
        customer_id,
        count(*) as vehicles_owned,
        sum(attributed_lines) as customer_attributed_lines

    from owned_lines
    group by customer_id

),

measured as (

    select
        owned_lines.customer_id,
        owned_lines.vehicle_id,
        owned_lines.days_in_garage,
        owned_lines.attributed_lines,
        customer_totals.customer_attributed_lines,
        customer_totals.vehicles_owned,
        (owned_lines.attributed_lines + {{ prior }} / customer_totals.vehicles_owned)
        / (customer_totals.customer_attributed_lines + {{ prior }})
        * customer_totals.vehicles_owned as vehicle_activity,
        coalesce(uplifts.project_uplift, 1.0) as project_uplift

    from owned_lines
    inner join customer_totals on owned_lines.customer_id = customer_totals.customer_id
    left join uplifts
        on
            {{ elapsed_bin('owned_lines.days_in_garage', bin_starts) }}
            = uplifts.days_in_garage_bin_start

),

final as (

    select * from measured

)

select * from final
