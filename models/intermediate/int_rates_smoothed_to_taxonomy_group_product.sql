-- Smoothed purchase rates of products in the parent groups of the vehicle taxonomy (all, make,
-- make+model), for groups where someone bought the product. Each rate shrinks toward its parent:
-- rate = (weighted_buyers + k * parent_rate) / (owners + k), k = var backoff_prior_strength.
-- The root rate ('all') is the catalog-wide rate: weighted buyers / all vehicle owners.
{% set prior_strength = var('backoff_prior_strength') %}
with

buyers as (

    select * from {{ ref('int_buyers_counted_to_taxonomy_group_product') }}

),

owners as (

    select * from {{ ref('int_owners_counted_to_taxonomy_group') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

make_models as (

    select distinct
        make_model_key,
        make_key

    from vehicles

),

catalog_rates as (

    select
        buyers.sku,
        buyers.weighted_buyers,
        buyers.buyer_count,
        owners.owner_count,
        buyers.weighted_buyers / owners.owner_count as smoothed_rate

    from buyers
    inner join owners
        on
            buyers.taxonomy_level = owners.taxonomy_level
            and buyers.group_key = owners.group_key
    where buyers.taxonomy_level = 'all'

),

make_rates as (

    select
        buyers.group_key as make_key,
        buyers.sku,
        buyers.weighted_buyers,
        buyers.buyer_count,
        owners.owner_count,
        (buyers.weighted_buyers + {{ prior_strength }} * catalog_rates.smoothed_rate)
        / (owners.owner_count + {{ prior_strength }}) as smoothed_rate

    from buyers
    inner join owners
        on
            buyers.taxonomy_level = owners.taxonomy_level
            and buyers.group_key = owners.group_key
    inner join catalog_rates on buyers.sku = catalog_rates.sku
    where buyers.taxonomy_level = 'make'

),

make_model_rates as (

    select
        buyers.group_key as make_model_key,
        buyers.sku,
        buyers.weighted_buyers,
        buyers.buyer_count,
        owners.owner_count,
        (buyers.weighted_buyers + {{ prior_strength }} * make_rates.smoothed_rate)
        / (owners.owner_count + {{ prior_strength }}) as smoothed_rate

    from buyers
    inner join owners
        on
            buyers.taxonomy_level = owners.taxonomy_level
            and buyers.group_key = owners.group_key
    inner join make_models on buyers.group_key = make_models.make_model_key
    inner join make_rates
        on
            make_models.make_key = make_rates.make_key
            and buyers.sku = make_rates.sku
    where buyers.taxonomy_level = 'make_model'

),

combined as (

    select
        'all' as taxonomy_level,
        'all' as group_key,
        sku,
        weighted_buyers,
        buyer_count,
        owner_count,
        smoothed_rate

    from catalog_rates

    union all

    select
        'make' as taxonomy_level,
        make_key as group_key,
        sku,
        weighted_buyers,
        buyer_count,
        owner_count,
        smoothed_rate

    from make_rates

    union all

    select
        'make_model' as taxonomy_level,
        make_model_key as group_key,
        sku,
        weighted_buyers,
        buyer_count,
        owner_count,
        smoothed_rate

    from make_model_rates

),

final as (

    select * from combined

)

select * from final
