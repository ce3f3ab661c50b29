-- Variant families: a SKU ending in a suffix of seed variant_suffixes whose stem
-- is shared by at least one other catalog SKU (the stem itself or a sibling) is a variant of the
-- family named by that stem; any other SKU is its own family. With several matching suffixes the
-- longest wins. The catalog is every clean product, active or not.
with

products as (

    select * from {{ ref('int_products_filtered_to_as_of') }}

),

suffixes as (

    select * from {{ ref('variant_suffixes') }}

),

catalog as (

    select sku from products
    where not is_dirty

),

suffix_matches as (

    select
        catalog.sku,
        suffixes.suffix,
        substr(
            catalog.sku, 1, {{ dbt.length('catalog.sku') }} - {{ dbt.length('suffixes.suffix') }}
        ) as stem,
        row_number() over (
            partition by catalog.sku
            order by {{ dbt.length('suffixes.suffix') }} desc, suffixes.suffix asc
        ) as match_rank

    from catalog
    inner join suffixes
        on
            {{ dbt.length('catalog.sku') }} > {{ dbt.length('suffixes.suffix') }}
            and {{ dbt.right('catalog.sku', dbt.length('suffixes.suffix')) }} = suffixes.suffix

),

candidate_stems as (

    select
        sku,
        stem

    from suffix_matches
    where match_rank = 1

),

-- members of a would-be family: the stem SKU itself (if in the catalog) and every suffixed SKU
stem_members as (

    select
        stem,
        sku

    from candidate_stems

    union all

    select
        candidate_stems.stem,
        catalog.sku

    from candidate_stems
    inner join catalog on candidate_stems.stem = catalog.sku

),

stem_sizes as (

    select
        stem,
        count(distinct sku) as member_count

    from stem_members
    group by stem

),

variant_families as (

    select distinct
        stem_members.sku,
        stem_members.stem as family_id

    from stem_members
    inner join stem_sizes on stem_members.stem = stem_sizes.stem
    where stem_sizes.member_count > 1

),

-- a SKU that is both a stem and a variant of a shorter stem keeps the family its own suffix gives
assigned as (

    select
        catalog.sku,
        coalesce(own_stem.family_id, as_stem.family_id, catalog.sku) as family_id

    from catalog
    left join variant_families as own_stem
        on
            catalog.sku = own_stem.sku
            and catalog.sku != own_stem.family_id
    left join variant_families as as_stem
        on
            catalog.sku = as_stem.sku
            and catalog.sku = as_stem.family_id

),

family_sizes as (

    select
        family_id,
        count(*) as family_size

    from assigned
    group by family_id

),

final as (

    select
        assigned.sku,
        assigned.family_id,
        family_sizes.family_size,
        family_sizes.family_size > 1 as is_variant

    from assigned
    inner join family_sizes on assigned.family_id = family_sizes.family_id

)

select * from final
