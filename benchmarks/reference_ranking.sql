-- The core ranking of the weekly job as one hand-written DuckDB query: the yardstick that
-- benchmarks/bench_run.py times against `vehicle-recs run`. It does the heavy part of the work
-- (attribution, owner and buyer counts, per-vehicle top M, expansion to owners, top K per
-- customer) and none of the rest (no dirty-row cleaning, as-of cut-off, look-back window,
-- smoothing, lift, families, replenishment, apparel cap, tests or payloads), so the ratio
-- run / reference is what the full job costs over the bare ranking.
-- {raw} is replaced with the folder of raw <table>.parquet files before it is run.
with

-- the raw tables hold a few duplicate ids (dirty rows); distinct keeps every count honest
customers as (

    select distinct customer_id, email_opt_in
    from read_parquet('{raw}/customers.parquet')

),

products as (

    select distinct sku, is_active, is_universal
    from read_parquet('{raw}/products.parquet')

),

fitment as (

    select distinct sku, vehicle_id
    from read_parquet('{raw}/fitment.parquet')

),

garage as (

    select distinct customer_id, vehicle_id
    from read_parquet('{raw}/customer_vehicles.parquet')

),

-- only completed orders are purchases (cancelled, returned and unknown statuses are not)
purchase_lines as (

    select
        orders.customer_id,
        order_lines.sku,
        order_lines.vehicle_id
    from read_parquet('{raw}/order_lines.parquet') as order_lines
    inner join read_parquet('{raw}/orders.parquet') as orders
        on order_lines.order_id = orders.order_id
    where orders.status = 'completed'

),

-- a customer owns a vehicle in their garage or one they bought a part for
owned as (

    select customer_id, vehicle_id from garage
    union
    select customer_id, vehicle_id from purchase_lines
    where vehicle_id is not null

),

owners_per_vehicle as (

    select vehicle_id, count(*) as owner_count
    from owned
    group by vehicle_id

),

-- a line counts for its own vehicle; without one, for each garage vehicle of the buyer that
-- the part fits (a part that fits none of them is not attributed)
attributed as (

    select customer_id, vehicle_id, sku
    from purchase_lines
    where vehicle_id is not null

    union all

    select
        purchase_lines.customer_id,
        garage.vehicle_id,
        purchase_lines.sku
    from purchase_lines
    inner join garage on purchase_lines.customer_id = garage.customer_id
    inner join fitment
        on
            purchase_lines.sku = fitment.sku
            and garage.vehicle_id = fitment.vehicle_id
    where purchase_lines.vehicle_id is null

),

buyers_per_vehicle_product as (

    select vehicle_id, sku, count(distinct customer_id) as buyer_count
    from attributed
    group by vehicle_id, sku

),

-- only products that may be sent for that vehicle: active, and fitting it or universal
rated as (

    select
        buyers.vehicle_id,
        buyers.sku,
        buyers.buyer_count / owners.owner_count as rate
    from buyers_per_vehicle_product as buyers
    inner join owners_per_vehicle as owners on buyers.vehicle_id = owners.vehicle_id
    inner join products on buyers.sku = products.sku
    left join fitment
        on
            buyers.sku = fitment.sku
            and buyers.vehicle_id = fitment.vehicle_id
    where
        products.is_active
        and (products.is_universal or fitment.sku is not null)

),

-- rank per vehicle first and keep the top 50, so the expansion to owners stays small
vehicle_top as (

    select vehicle_id, sku, rate
    from rated
    qualify row_number() over (partition by vehicle_id order by rate desc, sku asc) <= 50

),

opted_in_owned as (

    select owned.customer_id, owned.vehicle_id
    from owned
    inner join customers on owned.customer_id = customers.customer_id
    where customers.email_opt_in

),

bought as (

    select distinct customer_id, sku
    from purchase_lines

),

-- a product reached through several of the customer's vehicles keeps its best rate
expanded as (

    select
        opted_in_owned.customer_id,
        vehicle_top.sku,
        max(vehicle_top.rate) as rate
    from opted_in_owned
    inner join vehicle_top on opted_in_owned.vehicle_id = vehicle_top.vehicle_id
    anti join bought
        on
            opted_in_owned.customer_id = bought.customer_id
            and vehicle_top.sku = bought.sku
    group by opted_in_owned.customer_id, vehicle_top.sku

),

ranked as (

    select
        customer_id,
        row_number() over (partition by customer_id order by rate desc, sku asc) as rank,
        sku
    from expanded

)

select customer_id, rank, sku
from ranked
where rank <= 6
order by customer_id, rank
