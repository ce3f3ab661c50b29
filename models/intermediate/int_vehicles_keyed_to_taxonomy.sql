with

vehicles as (

    select * from {{ ref('stg_shop__vehicles') }}

),

clean as (

    select
        vehicle_id,
        model_year,
        make,
        model_name,
        submodel

    from vehicles
    where not is_dirty

),

keyed as (

    select
        vehicle_id,
        model_year,
        make,
        model_name,
        submodel,
        -- parents in the backoff taxonomy: year+make+model -> make+model -> make -> all
        {{ dbt.concat(['make', "'|'", 'model_name']) }} as make_model_key,
        make as make_key,
        {{ dbt.concat([
            'cast(model_year as ' ~ dbt.type_string() ~ ')', "' '", 'make', "' '", 'model_name'
        ]) }} as vehicle_label

    from clean

),

final as (

    select * from keyed

)

select * from final
