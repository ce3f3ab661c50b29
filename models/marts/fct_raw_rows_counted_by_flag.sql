-- One row per raw table and quality flag: how many raw rows the flag marks, of how many.
-- `vehicle-recs run` prints these counts and writes them to summary.json (dirty_rows), so a
-- dirty input reads as a number per table and kind, not only as a warning test's name.
-- A new flag in a staging model is counted once it is listed here.
{#- raw table: (its staging model, the staging model's quality flags) -#}
{%- set flags_by_table = {
    'vehicles': ('stg_shop__vehicles', ['is_duplicate', 'is_invalid_value']),
    'products': (
        'stg_shop__products', ['is_duplicate', 'is_invalid_price', 'is_unknown_department']
    ),
    'fitment': ('stg_shop__fitment', ['is_duplicate', 'is_missing_key']),
    'customers': ('stg_shop__customers', ['is_duplicate']),
    'customer_vehicles': (
        'stg_shop__customer_vehicles', ['is_duplicate', 'is_missing_key', 'is_future_dated']
    ),
    'orders': (
        'stg_shop__orders',
        ['is_duplicate', 'is_unknown_status', 'is_missing_timestamp', 'is_future_dated']
    ),
    'order_lines': (
        'stg_shop__order_lines', ['is_duplicate', 'is_invalid_quantity', 'is_invalid_price']
    ),
    'email_sends': (
        'stg_email__sends', ['is_duplicate', 'is_invalid_propensity', 'is_future_dated']
    ),
    'email_send_items': ('stg_email__send_items', ['is_duplicate']),
    'email_events': (
        'stg_email__events', ['is_duplicate', 'is_unknown_event_type', 'is_future_dated']
    ),
} %}
{#- one (raw table, staging model, flag) per count; is_dirty = any flag -#}
{%- set counted = [] %}
{%- for raw_table, (model_name, flags) in flags_by_table.items() %}
    {%- for flag in flags + ['is_dirty'] %}
        {%- do counted.append((raw_table, model_name, flag)) %}
    {%- endfor %}
{%- endfor %}

with

flag_counts as (

    {% for raw_table, model_name, flag in counted %}
        select
            '{{ raw_table }}' as raw_table,
            '{{ model_name }}' as model_name,
            '{{ flag }}' as flag,
            sum(case when {{ flag }} then 1 else 0 end) as flagged_rows,
            count(*) as total_rows
        from {{ ref(model_name) }}
        {% if not loop.last %}

            union all

        {% endif %}
    {% endfor %}

),

final as (

    select
        cast(raw_table as {{ dbt.type_string() }}) as raw_table,
        cast(model_name as {{ dbt.type_string() }}) as model_name,
        cast(flag as {{ dbt.type_string() }}) as flag,
        cast(coalesce(flagged_rows, 0) as {{ dbt.type_bigint() }}) as flagged_rows,
        cast(total_rows as {{ dbt.type_bigint() }}) as total_rows

    from flag_counts

)

select * from final
