{% test dirty_row_share(model, column_name, max_share=none) %}

-- The flagged rows of a staging model, returned only when their share of all rows exceeds
-- max_share (default: var dirty_row_error_share). Use it twice on a flag: with max_share 0 and
-- severity warn to report tolerable dirt, and with the default at severity error to stop a
-- build whose input is too dirty to trust.

{% set threshold = var('dirty_row_error_share') if max_share is none else max_share %}

with

shares as (

    select
        sum(case when {{ column_name }} then 1 else 0 end) as flagged_rows,
        count(*) as total_rows

    from {{ model }}

)

select
    flagged_rows,
    total_rows,
    cast(flagged_rows as {{ type_float64() }}) / total_rows as flagged_share

from shares
where
    total_rows > 0
    and cast(flagged_rows as {{ type_float64() }}) / total_rows > {{ threshold }}

{% endtest %}
