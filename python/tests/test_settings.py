"""Settings: the shipped files load; every broken file stops with its name and the key; the two
apparel caps agree; the arm modules import without a cycle."""

from __future__ import annotations

import ast
import json
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest

from vehicle_recs import settings
from vehicle_recs.contract import APPAREL, GIFT_CARDS
from vehicle_recs.project import DbtProject
from vehicle_recs.settings import (
    ArmsConfig,
    BanditConfig,
    PayloadsConfig,
    SelectionRules,
    SettingsError,
    check_apparel_caps,
    load_arms,
    load_bandit,
    load_payloads,
    load_section,
    load_selection,
)
from vehicle_recs.treatments import known_arms

PACKAGE = Path(settings.__file__).parent


def shipped(file: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PACKAGE / "config" / file).read_text())
    return data


def written(tmp_path: Path, file: str, **changes: Any) -> Path:
    """The shipped file with `changes` (None removes a key), written under tmp_path."""
    data = shipped(file)
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / file
    path.write_text(json.dumps(data))
    return path


def test_shipped_files_load_into_their_sections() -> None:
    arms = load_arms(registered=known_arms())
    assert isinstance(arms, ArmsConfig) and set(arms.weights) <= set(known_arms())
    bandit = load_bandit()
    assert isinstance(bandit, BanditConfig) and isinstance(bandit.strategies, tuple)
    payloads = load_payloads()
    assert isinstance(payloads, PayloadsConfig) and payloads.tracking["utm_source"] == "email"
    selection = load_selection()
    assert isinstance(selection, SelectionRules)
    assert selection.department_caps == {APPAREL: 1, GIFT_CARDS: 0}
    # a custom path is read instead of the shipped file
    assert load_section(SelectionRules, PACKAGE / "config" / "selection.json") == selection


@pytest.mark.parametrize(("file", "changes", "message"), [
    ("selection.json", {"itmes": 6},
     r"selection.json: itmes: unknown key \(known: items, department_caps, max_per_category; "),
    ("selection.json", {"items": "6"}, r"selection.json: items: must be an integer, got '6'"),
    ("selection.json", {"items": True}, r"selection.json: items: must be an integer"),
    ("selection.json", {"department_caps": {"apparl": 1}},
     r"selection.json: department_caps.apparl: unknown department 'apparl'"),
    ("selection.json", {"department_caps": {APPAREL: -1}},
     r"selection.json: department_caps.apparel: must be >= 0, got -1"),
    ("selection.json", {"department_caps": {APPAREL: 1.5}},
     r"selection.json: department_caps.apparel: must be an integer"),
    ("selection.json", {"max_per_category": 0}, r"selection.json: max_per_category: must be >= 1"),
    ("arms.json", {"weights": {"random": -1, "control": 1}},
     r"arms.json: weights.random: must be >= 0"),
    ("arms.json", {"weights": {"random": float("inf")}},
     r"arms.json: weights.random: must be a finite number, got inf"),
    ("arms.json", {"weights": {"random": True}}, r"arms.json: weights.random: must be a number"),
    ("arms.json", {"weights": {"random": 0, "control": 0}},
     r"arms.json: weights: arm weights must add up to more than 0"),
    ("arms.json", {"weights": {"random": "1"}}, r"arms.json: weights.random: must be a number"),
    ("arms.json", {"weights": {"nope": 1}}, r"arms.json: weights.nope: unknown treatment arm"),
    ("arms.json", {"weights": None}, r"arms.json: weights: missing key"),
    ("arms.json", {"persistent_holdout": "yes"},
     r"arms.json: persistent_holdout: must be true or false"),
    ("bandit.json", {"strategies": ["vehicle_affinity", "nope"]},
     r"bandit.json: strategies\[1\]: 'nope' is not a registered strategy \(known: "),
    ("bandit.json", {"strategies": []},
     r"bandit.json: strategies: the bandit needs at least one strategy"),
    ("bandit.json", {"strategies": ["vehicle_affinity", 1]},
     r"bandit.json: strategies\[1\]: must be a string, got 1"),
    ("bandit.json", {"strategies": "vehicle_affinity"}, r"bandit.json: strategies: must be a list"),
    ("bandit.json", {"priors": {"nope": [1, 2]}},
     r"bandit.json: priors.nope: not one of the bandit's strategies"),
    ("bandit.json", {"priors": {"high_ticket": [1]}},
     r"bandit.json: priors.high_ticket\[1\]: missing item"),
    ("bandit.json", {"priors": {"high_ticket": [1, 2, 3]}},
     r"bandit.json: priors.high_ticket: must have at most 2 items"),
    ("bandit.json", {"priors": {"high_ticket": ["1", 2]}},
     r"bandit.json: priors.high_ticket\[0\]: must be a number, got '1'"),
    ("bandit.json", {"priors": {"high_ticket": [1, 0]}},
     r"bandit.json: priors.high_ticket: bandit prior for 'high_ticket' must have alpha, beta > 0"),
    ("bandit.json", {"context": "vehicle_colour"},
     r"bandit.json: context: 'vehicle_colour' is not a column of the final candidates"),
    ("bandit.json", {"seed": 1.5}, r"bandit.json: seed: must be an integer"),
    ("payloads.json", {"tracking": {"utm_content": "{treatment}"}},
     r"payloads.json: tracking.utm_content: .*\{treatment\} would show customers"),
    ("payloads.json", {"product_url_template": "https://x/{arm}"},
     r"payloads.json: product_url_template: .*unknown placeholder \{arm\}"),
    ("payloads.json", {"tracking": None}, r"payloads.json: tracking: missing key"),
    ("payloads.json", {"preview_emails": -1}, r"payloads.json: preview_emails: must be >= 0"),
    ("payloads.json", {"revalidate_written_file": 1},
     r"payloads.json: revalidate_written_file: must be true or false"),
])
def test_a_broken_file_names_itself_and_the_key(tmp_path: Path, file: str,
                                                changes: dict[str, Any], message: str) -> None:
    path = written(tmp_path, file, **changes)
    with pytest.raises(SettingsError, match=message) as error:
        {"arms.json": lambda: load_arms(path, registered=known_arms()),
         "bandit.json": lambda: load_bandit(path),
         "payloads.json": lambda: load_payloads(path),
         "selection.json": lambda: load_selection(path)}[file]()
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_several_problems_show_the_first_and_count_the_others(tmp_path: Path) -> None:
    path = written(tmp_path, "selection.json", items="6", max_per_category=0, colour="red")
    with pytest.raises(SettingsError, match=(r"selection.json: items: must be an integer, got "
                                             r"'6' \(and 2 more problems\)$")):
        load_selection(path)


def test_integers_are_numbers_but_nothing_else_is_coerced(tmp_path: Path) -> None:
    """strict: an integer is accepted (as a float) where a number is expected, a JSON list
    where a tuple is; no string, bool or float is converted."""
    config = load_bandit(written(tmp_path, "bandit.json", prior_alpha=2,
                                 priors={"high_ticket": [1, 300]}))
    assert config.prior_alpha == 2.0 and isinstance(config.prior_alpha, float)
    assert config.priors["high_ticket"] == (1.0, 300.0)
    with pytest.raises(SettingsError, match=r"\(with prior_beta given\): prior_beta: must be a "
                                            r"number, got '250'"):
        load_bandit(prior_beta="250")


def test_a_file_that_is_no_json_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "selection.json"
    path.write_text("{items: 6}")
    with pytest.raises(SettingsError, match=r"selection.json: not valid JSON"):
        load_selection(path)
    path.write_text("[6]")
    with pytest.raises(SettingsError, match=r"selection.json: must hold a JSON object"):
        load_selection(path)


def test_sections_built_in_code_are_held_to_the_same_rules() -> None:
    rules = load_selection()
    with pytest.raises(SettingsError, match="department_caps.apparl: unknown department"):
        replace(rules, department_caps={"apparl": 1})
    with pytest.raises(SettingsError, match="priors.nope"):
        replace(load_bandit(), priors={"nope": (1.0, 2.0)})
    # types too, positional arguments named by their field; and the sections stay frozen
    with pytest.raises(SettingsError, match=r"^weights.random: must be >= 0.0, got -1$"):
        ArmsConfig({"random": -1}, "salt")
    with pytest.raises(SettingsError, match=r"^items: must be an integer, got '6'$"):
        SelectionRules(items="6")  # type: ignore[arg-type]
    with pytest.raises(FrozenInstanceError):
        rules.items = 3  # type: ignore[misc]
    # keyword overrides go through the file's checks and say they were given
    with pytest.raises(SettingsError, match=r"bandit.json \(with seed given\): seed: must be an"):
        load_bandit(seed="7")


def test_per_email_apparel_cap_never_exceeds_the_candidate_pool_cap() -> None:
    rules = SelectionRules(department_caps={APPAREL: 2, GIFT_CARDS: 0})
    check_apparel_caps(rules, 2)  # equal is fine
    check_apparel_caps(SelectionRules(department_caps={GIFT_CARDS: 0}), 0)  # no email cap
    with pytest.raises(SettingsError, match=(
            r"selection.json: department_caps.apparel = 2 exceeds dbt var "
            r"max_apparel_candidates = 1")):
        check_apparel_caps(rules, 1)
    with pytest.raises(SettingsError, match="max_apparel_candidates must be an integer"):
        check_apparel_caps(rules, "2")
    # the shipped settings agree with the shipped dbt var
    check_apparel_caps(load_selection(), DbtProject().var("max_apparel_candidates"))


def _module_imports(path: Path) -> set[str]:
    """vehicle_recs modules a module imports at import time (module level, not in functions)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "vehicle_recs"):
            if node.module == "vehicle_recs":
                found |= {f"vehicle_recs.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("vehicle_recs.")}
    return found


def test_arm_modules_import_without_a_cycle_or_a_lazy_import() -> None:
    """arms.py is imported by treatments.py and bandit_arm.py; treatments.py (the registry)
    imports bandit_arm.py; no module reaches itself through module-level imports."""
    graph = {f"vehicle_recs.{path.stem}": _module_imports(path)
             for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    assert "vehicle_recs.treatments" not in graph["vehicle_recs.bandit_arm"]
    assert {"vehicle_recs.arms", "vehicle_recs.bandit_arm"} <= graph["vehicle_recs.treatments"]

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for module in graph.get(start, set()) - seen:
            seen.add(module)
            if module == target or reaches(module, target, seen):
                return True
        return False

    assert [module for module in graph if reaches(module, module, set())] == []
    assert "importlib" not in (PACKAGE / "treatments.py").read_text()
    assert "bandit" in known_arms()
