{% test relationships_share(model, column_name, to, field, max_share=none) %}

-- Like `relationships` (same argument names), for raw data that may hold orphans: fails only
-- when the share of child rows whose key has no parent exceeds max_share (default: var
-- dirty_row_error_share). Pair it with a plain `relationships` test at severity warn.

{% set threshold = var('dirty_row_error_share') if max_share is none else max_share %}

with

child as (

    select {{ column_name }} as child_key from {{ model }}
    where {{ column_name }} is not null

),

parent as (

    select distinct {{ field }} as parent_key from {{ to }}

),

counted as (

    select
        sum(case when parent.parent_key is null then 1 else 0 end) as orphan_rows,
        count(*) as total_rows

    from child
    left join parent on child.child_key = parent.parent_key

)

select
    orphan_rows,
    total_rows

from counted
where
    total_rows > 0
    and cast(orphan_rows as {{ type_float64() }}) / total_rows > {{ threshold }}

{% endtest %}
