{#-
    dbt-project-evaluator (dbt Labs' best-practice rules) is not a dependency of this project; it
    is installed only for a review. Each of its rule models ends in filter_exceptions(), which
    dispatch (dbt_project.yml) resolves to this macro: the exceptions are then read from the
    models and sources themselves, where each one is written beside the model with its reason:

        config:
          meta:
            dbt_project_evaluator_exceptions:
              - rule: fct_too_many_joins      # the rule's model
                column: resource_name         # the rule's column naming this model or source
                reason: why the project departs from the rule here

    and the rule's findings naming an excepted model in that column are dropped.
-#}
{% macro default__filter_exceptions() %}
    {%- set excepted = {} -%}
    {%- if execute -%}
        {%- for resource in graph.nodes.values() | list + graph.sources.values() | list -%}
            {%- set meta = resource.config.get('meta') or resource.get('meta') or {} -%}
            {%- for exception in meta.get('dbt_project_evaluator_exceptions', []) -%}
                {%- if exception['rule'] == model.name -%}
                    {%- set name = resource.source_name ~ '.' ~ resource.name
                        if resource.resource_type == 'source' else resource.name -%}
                    {%- do excepted.setdefault(exception['column'], []).append(name) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif %}
    where 1 = 1
    {%- for column, names in excepted.items() %}
        and {{ column }} not in ({{ quoted_list(names) }})
    {%- endfor %}
{% endmacro %}
