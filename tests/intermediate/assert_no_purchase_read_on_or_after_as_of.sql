-- Nothing dated on or after as_of reaches the scoring (the backtest depends on it).
with

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

purchase_lines as (

    select * from {{ ref('int_order_lines_filtered_to_completed') }}

)

select
    purchase_lines.order_id,
    purchase_lines.line_number,
    purchase_lines.ordered_date

from purchase_lines
where purchase_lines.ordered_date >= (select as_of.as_of_date from as_of)
