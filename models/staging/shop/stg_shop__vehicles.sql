with

source as (

    select * from {{ source('shop', 'vehicles') }}

),

renamed as (

    select
        -- keys
        cast(vehicle_id as {{ dbt.type_string() }}) as vehicle_id,

        -- taxonomy: year + make + model is the base vehicle
        cast(year as {{ dbt.type_bigint() }}) as model_year,
        trim(cast(make as {{ dbt.type_string() }})) as make,
        trim(cast(model as {{ dbt.type_string() }})) as model_name,
        cast(submodel as {{ dbt.type_string() }}) as submodel,

        -- quality flags
        row_number() over (partition by vehicle_id order by year, make, model) > 1 as is_duplicate,
        coalesce(year < {{ var('min_model_year') }} or make is null or model is null, true)
            as is_invalid_value

    from source

),

flagged as (

    select
        *,
        is_duplicate or is_invalid_value as is_dirty

    from renamed

)

select * from flagged
