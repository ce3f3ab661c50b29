-- Nothing dated on or after as_of reaches the scoring (the backtest depends on it).
select
    order_id,
    line_number,
    ordered_date

from {{ ref('int_order_lines_filtered_to_completed') }}
where ordered_date >= {{ as_of_date() }}
