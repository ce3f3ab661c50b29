-- Guardrail: the share of opted-in customers with a vehicle who get at least one candidate is at
-- least var min_candidate_coverage (returns one row when it is not).
with

customers as (

    select * from {{ ref('int_customers_filtered_to_as_of') }}

),

owned as (

    select * from {{ ref('int_customer_vehicles_owned') }}

),

candidates as (

    select * from {{ ref('fct_recommendation_candidates') }}

),

population as (

    select distinct owned.customer_id
    from owned
    inner join customers on owned.customer_id = customers.customer_id
    where
        not customers.is_dirty
        and customers.is_email_opt_in

),

served as (

    select distinct customer_id from candidates

),

coverage as (

    select
        count(*) as population_customers,
        sum(case when served.customer_id is not null then 1 else 0 end) as served_customers

    from population
    left join served on population.customer_id = served.customer_id

)

select * from coverage
where
    population_customers > 0
    and served_customers < {{ var('min_candidate_coverage') }} * population_customers
