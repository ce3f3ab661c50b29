-- The engine's own ranking per vehicle (int_vehicle_products_ranked), trimmed to what an analyst
-- reads and given names, so "what would a 1969 Camaro owner see, and why" is one query.
with

ranked as (

    select * from {{ ref('int_vehicle_products_ranked') }}

),

vehicles as (

    select * from {{ ref('stg_shop__vehicles') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

clean_vehicles as (

    select
        vehicle_id,
        model_year,
        make,
        model_name

    from vehicles
    where not is_dirty

),

clean_products as (

    select
        sku,
        product_name,
        brand,
        category,
        department,
        price_usd,
        is_universal

    from products
    where not is_dirty

),

top_ranked as (

    select * from ranked
    where vehicle_rank <= {{ var('top_products_per_vehicle') }}

),

named as (

    select
        top_ranked.vehicle_id,
        top_ranked.vehicle_rank,
        clean_vehicles.model_year,
        clean_vehicles.make,
        clean_vehicles.model_name,
        top_ranked.sku,
        clean_products.product_name,
        clean_products.brand,
        clean_products.category,
        clean_products.department,
        clean_products.price_usd,
        top_ranked.price_tier,
        clean_products.is_universal,
        top_ranked.fitment_breadth,
        top_ranked.breadth_tier,
        top_ranked.buyer_count,
        top_ranked.owner_count,
        top_ranked.raw_rate,
        top_ranked.vehicle_rate,
        top_ranked.catalog_rate,
        top_ranked.lift,
        top_ranked.score

    from top_ranked
    inner join clean_vehicles
        on top_ranked.vehicle_id = clean_vehicles.vehicle_id
    inner join clean_products
        on top_ranked.sku = clean_products.sku

),

final as (

    select * from named

)

select * from final
