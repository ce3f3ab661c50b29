{{ config(
    cluster_by=(['customer_id'] if target.type == 'bigquery' else none),
) }}
-- The interface the Python layer reads: top N (var candidates_per_customer) eligible candidates
-- per opted-in customer under this engine's strategy (vehicle_aware), ranked by score (ties by
-- sku), with where each came from and why. Customers without a vehicle get the documented
-- fallback (popular universal parts), flagged. Ranking and eligibility live upstream
-- (int_customer_products_ranked_by_strategy); this model adds the display columns and reasons.
-- is_new_arrival: the product was created in the var new_arrival_days days before as_of; where
-- its category's prior set the vehicle score (int_vehicle_products_scored_for_new_arrival), the
-- reason says it is new for the vehicle.
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

ranked as (

    select * from {{ ref('int_customer_products_ranked_by_strategy') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

vehicles as (

    select * from {{ ref('int_vehicles_keyed_to_taxonomy') }}

),

-- the components behind a vehicle candidate's score (rate, lift, buyer counts for the reason)
vehicle_scores as (

    select * from {{ ref('int_vehicle_products_ranked') }}

),

top_candidates as (

    select * from ranked
    where strategy = 'vehicle_aware'

),

described as (

    select
        top_candidates.customer_id,
        top_candidates.candidate_rank,
        top_candidates.sku,
        products.family_id,
        products.is_variant,
        top_candidates.vehicle_id,
        vehicles.model_year as vehicle_year,
        vehicles.make as vehicle_make,
        vehicles.model_name as vehicle_model,
        products.product_name,
        products.brand,
        products.category,
        products.department,
        products.price_usd,
        products.image_url,
        products.product_url,
        top_candidates.score,
        vehicle_scores.vehicle_rate,
        vehicle_scores.buyer_count,
        vehicle_scores.owner_count,
        vehicle_scores.lift,
        products.fitment_breadth,
        products.breadth_tier,
        products.price_tier,
        case
            when top_candidates.is_replenishment then 'replenishment'
            when top_candidates.is_fallback then 'fallback_popular'
            when top_candidates.last_clicked_date is not null then 'click_intent'
            when vehicle_scores.is_new_arrival_prior then 'new_arrival'
            else 'vehicle_affinity'
        end as reason_code,
        case
            when top_candidates.is_replenishment
                then {{ dbt.concat([
                    "'You bought this '",
                    "cast(top_candidates.months_since_purchase as " ~ dbt.type_string() ~ ")",
                    "case when top_candidates.months_since_purchase = 1 then ' month ago'"
                    ~ " else ' months ago' end",
                ]) }}
            when top_candidates.is_fallback
                then 'Popular with customers across all vehicles'
            when top_candidates.last_clicked_date is not null
                then {{ dbt.concat([
                    "'You looked at this on '",
                    format_month_day('top_candidates.last_clicked_date'),
                ]) }}
            when vehicle_scores.is_new_arrival_prior
                then {{ dbt.concat(["'New for your '", 'vehicles.vehicle_label']) }}
            when vehicle_scores.buyer_count >= {{ var('reason_min_buyers') }}
                then {{ dbt.concat([
                    "'Bought by '",
                    format_count('vehicle_scores.buyer_count'),
                    "' of '",
                    format_count('vehicle_scores.owner_count'),
                    "' '",
                    'vehicles.vehicle_label',
                    "' owners'",
                ]) }}
            when vehicle_scores.make_model_buyer_count >= {{ var('reason_min_buyers') }}
                then {{ dbt.concat([
                    "'Bought by '",
                    format_count('vehicle_scores.make_model_buyer_count'),
                    "' of '",
                    format_count('vehicle_scores.make_model_owner_count'),
                    "' '",
                    'vehicles.make',
                    "' '",
                    'vehicles.model_name',
                    "' owners'",
                ]) }}
            when vehicle_scores.make_buyer_count >= {{ var('reason_min_buyers') }}
                then {{ dbt.concat([
                    "'Bought by '",
                    format_count('vehicle_scores.make_buyer_count'),
                    "' of '",
                    format_count('vehicle_scores.make_owner_count'),
                    "' '",
                    'vehicles.make',
                    "' owners'",
                ]) }}
            else {{ dbt.concat(["'Fits your '", 'vehicles.vehicle_label']) }}
        end as reason,
        top_candidates.is_fallback,
        top_candidates.is_replenishment,
        coalesce(
            cast(products.created_at as date) >= (
                select
                    cast(
                        {{ dbt.dateadd('day', -var('new_arrival_days'), 'as_of.as_of_date') }}
                        as date
                    )
                from as_of
            ),
            false
        ) as is_new_arrival,
        (select as_of.as_of_date from as_of) as as_of_date

    from top_candidates
    inner join products on top_candidates.sku = products.sku
    left join vehicles on top_candidates.vehicle_id = vehicles.vehicle_id
    left join vehicle_scores
        on
            top_candidates.vehicle_id = vehicle_scores.vehicle_id
            and top_candidates.sku = vehicle_scores.sku
            and not top_candidates.is_replenishment
            and not top_candidates.is_fallback

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(candidate_rank as {{ dbt.type_bigint() }}) as candidate_rank,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(family_id as {{ dbt.type_string() }}) as family_id,
        cast(is_variant as {{ dbt.type_boolean() }}) as is_variant,
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,
        cast(vehicle_year as {{ dbt.type_bigint() }}) as vehicle_year,
        cast(vehicle_make as {{ dbt.type_string() }}) as vehicle_make,
        cast(vehicle_model as {{ dbt.type_string() }}) as vehicle_model,
        cast(product_name as {{ dbt.type_string() }}) as product_name,
        cast(brand as {{ dbt.type_string() }}) as brand,
        cast(category as {{ dbt.type_string() }}) as category,
        cast(department as {{ dbt.type_string() }}) as department,
        cast(price_usd as {{ dbt.type_numeric() }}) as price_usd,
        cast(image_url as {{ dbt.type_string() }}) as image_url,
        cast(product_url as {{ dbt.type_string() }}) as product_url,
        cast(score as {{ type_float64() }}) as score,
        cast(vehicle_rate as {{ type_float64() }}) as vehicle_rate,
        cast(buyer_count as {{ dbt.type_bigint() }}) as buyer_count,
        cast(owner_count as {{ dbt.type_bigint() }}) as owner_count,
        cast(lift as {{ type_float64() }}) as lift,
        cast(fitment_breadth as {{ dbt.type_bigint() }}) as fitment_breadth,
        cast(breadth_tier as {{ dbt.type_string() }}) as breadth_tier,
        cast(price_tier as {{ dbt.type_string() }}) as price_tier,
        cast(reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(reason as {{ dbt.type_string() }}) as reason,
        cast(is_fallback as {{ dbt.type_boolean() }}) as is_fallback,
        cast(is_replenishment as {{ dbt.type_boolean() }}) as is_replenishment,
        cast(is_new_arrival as {{ dbt.type_boolean() }}) as is_new_arrival,
        cast(as_of_date as date) as as_of_date

    from described

)

select * from final
