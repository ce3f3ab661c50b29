{{ config(
    cluster_by=(['strategy', 'customer_id'] if target.type == 'bigquery' else none),
) }}
-- Baseline candidates, one row per (strategy, opted-in customer, candidate_rank): the top N
-- (var candidates_per_customer) of each baseline strategy for the backtest and the random email
-- arm, under the same eligibility as the engine (active, no gift cards, fits one of the
-- customer's vehicles or universal, no family already bought, apparel capped). Customers without
-- a vehicle have no baseline rows. random_eligible orders each customer's pool by a hash of
-- (customer, sku, var random_seed), so a campaign changes the draw by changing the var.
with

ranked as (

    select * from {{ ref('int_vehicle_products_ranked_for_baselines') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

purchased_families as (

    select * from {{ ref('int_customer_families_purchased') }}

),

opted_in as (

    select customer_id from customers
    where
        not is_dirty
        and is_email_opt_in

),

expanded as (

    select
        ranked.strategy,
        owned.customer_id,
        ranked.vehicle_id,
        ranked.sku,
        products.family_id,
        products.department,
        ranked.score

    from owned
    inner join opted_in on owned.customer_id = opted_in.customer_id
    inner join ranked on owned.vehicle_id = ranked.vehicle_id
    inner join products on ranked.sku = products.sku

),

not_bought as (

    select expanded.*
    from expanded
    left join purchased_families
        on
            expanded.customer_id = purchased_families.customer_id
            and expanded.family_id = purchased_families.family_id
    where purchased_families.family_id is null

),

-- a product reached through several vehicles keeps its best-scored one (ties: smallest id)
best_scores as (

    select
        strategy,
        customer_id,
        sku,
        max(score) as best_score

    from not_bought
    group by strategy, customer_id, sku

),

best_vehicles as (

    select
        not_bought.strategy,
        not_bought.customer_id,
        not_bought.sku,
        min(not_bought.vehicle_id) as vehicle_id

    from not_bought
    inner join best_scores
        on
            not_bought.strategy = best_scores.strategy
            and not_bought.customer_id = best_scores.customer_id
            and not_bought.sku = best_scores.sku
            and not_bought.score = best_scores.best_score
    group by not_bought.strategy, not_bought.customer_id, not_bought.sku

),

deduplicated as (

    select
        not_bought.*,
        case
            when not_bought.strategy = 'random_eligible'
                then {{ dbt.hash(dbt.concat([
                    'not_bought.customer_id', "'|'", 'not_bought.sku', "'|'",
                    "'" ~ var('random_seed') ~ "'"
                ])) }}
            else ''
        end as draw_key

    from not_bought
    inner join best_vehicles
        on
            not_bought.strategy = best_vehicles.strategy
            and not_bought.customer_id = best_vehicles.customer_id
            and not_bought.sku = best_vehicles.sku
            and not_bought.vehicle_id = best_vehicles.vehicle_id

),

-- the apparel cap needs a rank among apparel rows only (few rows to sort)
apparel_ranked as (

    select
        *,
        row_number() over (
            partition by strategy, customer_id
            order by score desc, draw_key asc, sku asc
        ) as apparel_rank

    from deduplicated
    where department = 'apparel'

),

capped as (

    select * from deduplicated
    where department != 'apparel'

    union all

    select
        strategy,
        customer_id,
        vehicle_id,
        sku,
        family_id,
        department,
        score,
        draw_key

    from apparel_ranked
    where apparel_rank <= {{ var('max_apparel_candidates') }}

),

customer_ranked as (

    select
        *,
        row_number() over (
            partition by strategy, customer_id
            order by score desc, draw_key asc, sku asc
        ) as candidate_rank

    from capped

),

final as (

    select
        cast(strategy as {{ dbt.type_string() }}) as strategy,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(candidate_rank as {{ dbt.type_bigint() }}) as candidate_rank,
        cast(sku as {{ dbt.type_string() }}) as sku,
        cast(family_id as {{ dbt.type_string() }}) as family_id,
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,
        cast(score as {{ type_float64() }}) as score

    from customer_ranked
    where candidate_rank <= {{ var('candidates_per_customer') }}

)

select * from final
