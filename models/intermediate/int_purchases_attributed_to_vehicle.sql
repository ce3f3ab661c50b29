-- Purchase attribution of completed lines in the look-back window: a line counts for
-- its own vehicle when given; otherwise it is split evenly over the buyer's vehicles the part
-- fits; a universal part is split over all the buyer's vehicles. Lines that fit none of the
-- buyer's vehicles are not attributed.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

fitment as (

    select * from {{ ref('int_fitment_filtered_to_known') }}

),

windowed_lines as (

    select
        order_id,
        line_number,
        customer_id,
        sku,
        vehicle_id,
        ordered_date

    from purchase_lines
    where
        ordered_date >= cast(
            {{ dbt.dateadd(
                'day', -1 * var('lookback_days') | int, '(select as_of.as_of_date from as_of)'
            ) }} as date
        )

),

universal_products as (

    select sku from products
    where
        not is_dirty
        and is_universal

),

with_line_vehicle as (

    select
        order_id,
        line_number,
        customer_id,
        sku,
        vehicle_id,
        'line_vehicle' as attribution_method

    from windowed_lines
    where vehicle_id is not null

),

without_line_vehicle as (

    select
        windowed_lines.order_id,
        windowed_lines.line_number,
        windowed_lines.customer_id,
        windowed_lines.sku,
        universal_products.sku is not null as is_universal

    from windowed_lines
    left join universal_products on windowed_lines.sku = universal_products.sku
    where windowed_lines.vehicle_id is null

),

split_candidates as (

    select
        without_line_vehicle.order_id,
        without_line_vehicle.line_number,
        without_line_vehicle.customer_id,
        without_line_vehicle.sku,
        owned.vehicle_id,
        case
            when without_line_vehicle.is_universal then 'universal_split'
            else 'garage_split'
        end as attribution_method

    from without_line_vehicle
    inner join owned on without_line_vehicle.customer_id = owned.customer_id
    left join fitment
        on
            without_line_vehicle.sku = fitment.sku
            and owned.vehicle_id = fitment.vehicle_id
    where
        without_line_vehicle.is_universal
        or fitment.sku is not null

),

attributed as (

    select
        order_id,
        line_number,
        customer_id,
        sku,
        vehicle_id,
        attribution_method,
        1.0 as weight

    from with_line_vehicle

    union all

    select
        order_id,
        line_number,
        customer_id,
        sku,
        vehicle_id,
        attribution_method,
        1.0 / count(*) over (partition by order_id, line_number) as weight

    from split_candidates

),

final as (

    select * from attributed

)

select * from final
