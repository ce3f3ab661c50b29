-- The backtest's scorecard, one row per strategy: how well each strategy's top K (var
-- backtest_k) recommendations as of the cut-off match what the population bought in the
-- horizon (int_order_lines_filtered_to_backtest_horizon). Strategies: the engine
-- (vehicle_aware) and every baseline (int_customer_products_recommended_for_backtest).
--   match_rate          = matched lines / purchase lines (a line matches when its SKU is in the
--                         customer's top K), split into re-buy and new-item lines;
--   revenue_match_rate  = revenue of matched lines / revenue of all lines;
--   per buyer (population customers with a line in the horizon), averaged over buyers:
--     customer_hit_rate (any hit), precision_at_k = hits / K, recall_at_k = hits / SKUs bought,
--     ndcg_at_k = sum over hits of 1 / log2(rank + 1), over the same sum for a perfect list;
--   catalog_coverage    = distinct SKUs recommended / sendable products of the catalog as of
--                         the cut-off (dim_products).
-- ln(x) / ln(2), literal rows and the float macro keep it the same on DuckDB and BigQuery.
{% set k = var('backtest_k') %}
with

population as (

    select * from {{ ref('int_customers_filtered_to_opted_in_owners') }}

),

purchases as (

    select * from {{ ref('int_order_lines_filtered_to_backtest_horizon') }}

),

recommended as (

    select * from {{ ref('int_customer_products_recommended_for_backtest') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

-- every strategy's top K per population customer
population_recommendations as (

    select
        strategy,
        customer_id,
        sku,
        candidate_rank

    from recommended
    where candidate_rank <= {{ k }}

),

strategies as (

    select 'vehicle_aware' as strategy

    union distinct

    select strategy
    from recommended

),

-- the positions 1 .. K of a perfect list (literal rows: portable)
positions as (

    {% for position in range(1, k + 1) -%}
        select {{ position }} as rank_position
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

purchased_skus as (

    select
        customer_id,
        sku

    from purchases
    group by customer_id, sku

),

buyers as (

    select
        customer_id,
        count(*) as purchased_sku_count

    from purchased_skus
    group by customer_id

),

line_matches as (

    select
        strategies.strategy,
        count(*) as purchase_lines,
        count(recs.sku) as matched_lines,
        sum(purchases.revenue_usd) as revenue_usd,
        sum(case when recs.sku is not null then purchases.revenue_usd else 0 end)
            as matched_revenue_usd,
        count(case when purchases.is_rebuy then 1 end) as rebuy_lines,
        count(case when purchases.is_rebuy and recs.sku is not null then 1 end)
            as rebuy_matched_lines,
        count(case when not purchases.is_rebuy then 1 end) as new_item_lines,
        count(case when not purchases.is_rebuy and recs.sku is not null then 1 end)
            as new_item_matched_lines

    from strategies
    cross join purchases
    left join population_recommendations as recs
        on
            strategies.strategy = recs.strategy
            and purchases.customer_id = recs.customer_id
            and purchases.sku = recs.sku
    group by strategies.strategy

),

hits as (

    select
        recs.strategy,
        recs.customer_id,
        recs.sku,
        recs.candidate_rank

    from population_recommendations as recs
    inner join purchased_skus
        on
            recs.customer_id = purchased_skus.customer_id
            and recs.sku = purchased_skus.sku

),

customer_hits as (

    select
        strategies.strategy,
        buyers.customer_id,
        buyers.purchased_sku_count,
        count(hits.sku) as hit_count,
        coalesce(sum(1.0 / (ln(hits.candidate_rank + 1) / ln(2))), 0) as dcg

    from strategies
    cross join buyers
    left join hits
        on
            strategies.strategy = hits.strategy
            and buyers.customer_id = hits.customer_id
    group by strategies.strategy, buyers.customer_id, buyers.purchased_sku_count

),

ideal as (

    select
        buyers.customer_id,
        sum(1.0 / (ln(positions.rank_position + 1) / ln(2))) as idcg

    from buyers
    cross join positions
    where positions.rank_position <= buyers.purchased_sku_count
    group by buyers.customer_id

),

customer_metrics as (

    select
        customer_hits.strategy,
        avg(case when customer_hits.hit_count > 0 then 1.0 else 0.0 end) as customer_hit_rate,
        avg(customer_hits.hit_count / {{ k }}.0) as precision_at_k,
        avg(customer_hits.hit_count * 1.0 / customer_hits.purchased_sku_count) as recall_at_k,
        avg(customer_hits.dcg / ideal.idcg) as ndcg_at_k,
        count(*) as buyers

    from customer_hits
    inner join ideal on customer_hits.customer_id = ideal.customer_id
    group by customer_hits.strategy

),

sendable as (

    select count(*) as sendable_products

    from products
    where {{ is_sendable_product() }}

),

population_size as (

    select count(*) as population_customers
    from population

),

coverage as (

    select
        strategies.strategy,
        count(distinct recs.sku) as recommended_skus,
        count(distinct recs.customer_id) as customers_with_recommendations

    from strategies
    left join population_recommendations as recs on strategies.strategy = recs.strategy
    group by strategies.strategy

),

final as (

    select
        line_matches.strategy,
        line_matches.matched_lines * 1.0 / nullif(line_matches.purchase_lines, 0) as match_rate,
        cast(line_matches.matched_revenue_usd as {{ type_float64() }})
        / nullif(cast(line_matches.revenue_usd as {{ type_float64() }}), 0) as revenue_match_rate,
        customer_metrics.customer_hit_rate,
        customer_metrics.precision_at_k,
        customer_metrics.recall_at_k,
        customer_metrics.ndcg_at_k,
        coverage.recommended_skus * 1.0 / sendable.sendable_products as catalog_coverage,
        line_matches.rebuy_matched_lines * 1.0 / nullif(line_matches.rebuy_lines, 0)
            as rebuy_match_rate,
        line_matches.new_item_matched_lines * 1.0 / nullif(line_matches.new_item_lines, 0)
            as new_item_match_rate,
        line_matches.purchase_lines,
        line_matches.matched_lines,
        line_matches.rebuy_lines,
        line_matches.rebuy_matched_lines,
        line_matches.new_item_lines,
        line_matches.new_item_matched_lines,
        cast(line_matches.revenue_usd as {{ type_float64() }}) as revenue_usd,
        cast(line_matches.matched_revenue_usd as {{ type_float64() }}) as matched_revenue_usd,
        customer_metrics.buyers,
        coverage.customers_with_recommendations,
        coverage.recommended_skus,
        population_size.population_customers

    from line_matches
    left join customer_metrics on line_matches.strategy = customer_metrics.strategy
    inner join coverage on line_matches.strategy = coverage.strategy
    cross join sendable
    cross join population_size

)

select * from final
