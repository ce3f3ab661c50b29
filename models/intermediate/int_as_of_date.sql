{{ config(materialized='table') }}
-- The cut-off every scoring and readout model reads, one row: var as_of ('YYYY-MM-DD') when set,
-- else the day after the last clean order date (future-dated and other dirty orders are flagged
-- in staging, so one bad timestamp cannot move it). Nothing dated on or after it is read.
-- Models import it like any other relation, so lineage shows who depends on the cut-off.
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

last_clean_order as (

    select max(cast(ordered_at as date)) as last_order_date
    from orders
    where not is_dirty

),

final as (

    select
        {% if var('as_of', none) -%}
            cast('{{ var("as_of") }}' as date)
        {%- else -%}
            cast({{ dbt.dateadd('day', 1, 'last_order_date') }} as date)
        {%- endif %} as as_of_date

    from last_clean_order

)

select * from final
