"""Variant families from the suffix seed: properties and the v5.7 regression."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from vehicle_recs.variants import assign_families, family_mismatches, load_suffixes, variant_labels

SUFFIXES = {"B": "black finish", "R": "red finish", "G": "gray finish", "P": "polished finish"}

stems = st.from_regex(r"[A-Z]{2,3}-[0-9]{3,5}", fullmatch=True)
suffix = st.sampled_from(sorted(SUFFIXES))


def test_seed_is_read_not_hard_coded() -> None:
    suffixes = load_suffixes()
    assert set(suffixes) >= {"B", "R", "G", "P"}
    assert all(meaning for meaning in suffixes.values())


def test_examples_from_the_spec() -> None:
    families = assign_families(
        ["AC-1000", "AC-1000B", "AC-2000B", "AC-3000R", "AC-3000G", "XY-1"], SUFFIXES
    ).set_index("sku")
    # stem present: a family of two
    assert families.loc["AC-1000B", "family_id"] == "AC-1000"
    assert families.loc["AC-1000", "family_id"] == "AC-1000"
    assert families.loc["AC-1000B", "is_variant"]
    # a look-alike with no stem and no sibling is its own family, not a variant
    assert families.loc["AC-2000B", "family_id"] == "AC-2000B"
    assert not families.loc["AC-2000B", "is_variant"]
    # siblings without the stem SKU still form a family named by the stem
    assert families.loc["AC-3000R", "family_id"] == "AC-3000"
    assert families.loc["AC-3000G", "family_id"] == "AC-3000"
    assert not families.loc["XY-1", "is_variant"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(stems, st.sets(suffix, max_size=4), st.booleans()), min_size=1,
                max_size=25))
def test_family_rule_properties(spec: list[tuple[str, set[str], bool]]) -> None:
    catalog: set[str] = set()
    for stem, suffixes, has_base in spec:
        catalog.update(stem + s for s in suffixes)
        if has_base:
            catalog.add(stem)
    families = assign_families(sorted(catalog), SUFFIXES)
    assert sorted(families["sku"]) == sorted(catalog)  # every SKU once, none invented
    rows: list[dict[Any, Any]] = families.to_dict("records")
    members: dict[str, set[str]] = {}
    for row in rows:
        members.setdefault(str(row["family_id"]), set()).add(str(row["sku"]))
    for row in rows:
        sku, family = str(row["sku"]), str(row["family_id"])
        assert bool(row["is_variant"]) == (len(members[family]) > 1)
        if family != sku:
            # a variant: its stem plus one seed suffix, in a family of more than one SKU
            assert sku.startswith(family) and sku[len(family):] in SUFFIXES
            assert len(members[family]) > 1
        stem = sku[:-1]
        siblings = {other for other in catalog
                    if other != sku and other[:-1] == stem and other[-1:] in SUFFIXES}
        if sku[-1:] in SUFFIXES and stem not in catalog and not siblings:
            # a look-alike B/R/G/P SKU with no family is not a variant
            assert family == sku


@given(stems, suffix)
def test_lookalike_alone_is_not_a_variant(stem: str, s: str) -> None:
    families = assign_families([stem + s, "ZZ-1"], SUFFIXES).set_index("sku")
    assert families.loc[stem + s, "family_id"] == stem + s
    assert not families.loc[stem + s, "is_variant"]


def test_labels_come_from_the_seed_and_never_touch_the_sku() -> None:
    skus = pa.array(["AC-1000B", "AC-1000", "AC-2000B", "AC-3000R"])
    families = pa.array(["AC-1000", "AC-1000", "AC-2000B", "AC-3000"])
    labels = variant_labels(skus, families, SUFFIXES).to_pylist()
    assert labels == ["black finish", None, None, "red finish"]


def test_family_mismatches_finds_a_collapsed_family() -> None:
    candidates = pd.DataFrame({"sku": ["AC-1000B", "AC-2000B"],
                               "family_id": ["AC-1000", "AC-2000"]})
    wrong = family_mismatches(candidates, ["AC-1000", "AC-1000B", "AC-2000B"], SUFFIXES)
    assert wrong["sku"].tolist() == ["AC-2000B"]  # no AC-2000 family exists
