{% macro is_sendable_product(relation=none) -%}
    {#-
        The department rule of eligibility in one place: an active
        product outside gift cards. `relation` is the alias whose columns are read, if any.
    -#}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    ({{ prefix }}is_active and {{ prefix }}department != 'gift_cards')
{%- endmacro %}
