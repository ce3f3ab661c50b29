-- The catalog as of as_of, one row per clean product created before as_of (or with no creation
-- time): every scoring model reads products through here, so a product added later never leaks
-- into a backtest.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        sku,
        product_name,
        brand,
        category,
        department,
        image_url,
        product_url,
        price_usd,
        is_active,
        is_universal,
        created_at,
        is_dirty

    from products
    where
        not is_dirty
        and (created_at is null or cast(created_at as date) < (select as_of.as_of_date from as_of))

)

select * from final
