"""Variant families, driven by the suffix seed.

A SKU that ends in a suffix of `seeds/variant_suffixes.csv` *and* whose stem is shared by at
least one other catalog SKU (the stem itself or a sibling variant) is a variant of the family
named by that stem; any other SKU is its own family. The dbt model
`int_products_grouped_to_families` computes the same rule in SQL (with the same tie rules: the
longest matching suffix wins; a SKU that is both a variant and a stem keeps its own suffix's
family); this module is the Python twin used to check the final model's `family_id` and by the
property tests. Suffix meanings (for the payload's `variant` label) come from the seed, never
from code.

Nothing here ever maps a SKU to another SKU: the shown SKU is the scored SKU (the v5.7 bug
collapsed variants onto their base SKU).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.project import find_project_dir

SEED_FILE = Path("seeds") / "variant_suffixes.csv"


def load_suffixes(path: Path | None = None) -> dict[str, str]:
    """The suffix seed as {suffix: meaning}; raises ValueError when it is missing or malformed."""
    seed = path or find_project_dir() / SEED_FILE
    if not seed.is_file():
        raise VehicleRecsError(f"variant suffix seed not found: {seed}")
    with seed.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"suffix", "meaning"} <= set(reader.fieldnames):
            raise VehicleRecsError(f"{seed}: expected columns suffix,meaning")
        suffixes = {row["suffix"].strip(): row["meaning"].strip() for row in reader}
    if not suffixes or "" in suffixes:
        raise VehicleRecsError(f"{seed}: every row needs a non-empty suffix")
    return suffixes


def assign_families(catalog: Iterable[str], suffixes: Iterable[str]) -> pd.DataFrame:
    """One row per distinct catalog SKU: sku, family_id, is_variant (vectorized over the catalog).

    `is_variant` is true when the SKU's family has more than one member, as in the SQL model.
    """
    skus = pd.Series(pd.unique(pd.Series(list(catalog), dtype=object)), dtype=object)
    stems = pd.Series(np.full(len(skus), None, dtype=object), index=skus.index)
    lengths = skus.str.len()
    # The longest suffix wins (ties: the alphabetically first), as in the SQL model.
    for suffix in sorted(set(suffixes), key=lambda value: (-len(value), value)):
        hit = stems.isna() & (lengths > len(suffix)) & skus.str.endswith(suffix)
        stems[hit] = skus[hit].str.slice(stop=-len(suffix))
    in_catalog = set(skus)
    suffixed = pd.DataFrame({"sku": skus[stems.notna()], "stem": stems[stems.notna()]})
    # Members of a would-be family: every SKU with that stem, plus the stem SKU if it exists.
    stem_skus = suffixed["stem"].drop_duplicates()
    stem_skus = stem_skus[stem_skus.isin(in_catalog)]
    members = pd.concat([suffixed, pd.DataFrame({"sku": stem_skus, "stem": stem_skus})],
                        ignore_index=True).drop_duplicates()
    sizes = members.groupby("stem")["sku"].transform("size")
    families = members[sizes > 1]
    # A SKU's own suffix decides first; else it heads a family as its stem; else its own family.
    own = families[families["sku"] != families["stem"]].set_index("sku")["stem"]
    as_stem = families[families["sku"] == families["stem"]].set_index("sku")["stem"]
    family = skus.map(own).fillna(skus.map(as_stem)).fillna(skus)
    result = pd.DataFrame({"sku": skus, "family_id": family.astype(object)})
    result["is_variant"] = result.groupby("family_id")["sku"].transform("size").to_numpy() > 1
    return result.reset_index(drop=True)


def variant_labels(skus: pa.Array | pa.ChunkedArray, family_ids: pa.Array | pa.ChunkedArray,
                   suffixes: Mapping[str, str]) -> pa.Array:
    """The seed's meaning of the suffix that makes a SKU a member of its family, else null.

    A SKU is labelled when it is its family's stem plus a seed suffix (`AC-1000B` in family
    `AC-1000`); the stem SKU itself and single-member families get null. Vectorized (Arrow).
    """
    skus = pa.chunked_array([skus]) if isinstance(skus, pa.Array) else skus
    family_ids = pa.chunked_array([family_ids]) if isinstance(family_ids, pa.Array) else family_ids
    differs = pc.fill_null(pc.not_equal(skus, family_ids), False)
    extra = pc.subtract(pc.utf8_length(skus), pc.utf8_length(family_ids))
    labels = pa.chunked_array([pa.nulls(len(skus), pa.string())])
    for suffix in sorted(suffixes, key=lambda value: (-len(value), value)):
        hit = pc.and_(pc.and_(differs, pc.fill_null(pc.ends_with(skus, suffix), False)),
                      pc.fill_null(pc.equal(extra, len(suffix)), False))
        hit = pc.and_(hit, pc.is_null(labels))
        labels = pc.if_else(hit, pa.scalar(suffixes[suffix]), labels)
    return labels.combine_chunks()


def family_mismatches(candidates: pd.DataFrame, catalog: Iterable[str],
                      suffixes: Iterable[str]) -> pd.DataFrame:
    """Candidate rows whose family_id differs from the rule applied to the catalog."""
    expected = assign_families(catalog, suffixes).set_index("sku")["family_id"]
    rows = candidates[["sku", "family_id"]].drop_duplicates()
    wanted = rows["sku"].map(expected)
    return rows[wanted.notna() & (wanted != rows["family_id"])]
