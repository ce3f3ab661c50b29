"""The package's settings: the JSON files in `config/`, read by one loader into checked sections.

Why one module: arms.json, bandit.json, payloads.json and selection.json used to be read by four
loaders that each checked a different subset (or nothing: a typo in a key silently kept the
default, a string where a number belongs failed deep inside a run). Here one JSON loader
(`load_section`) reads any of them the same way, and pydantic (a dependency of dbt-core anyway)
does the checking that used to be hand-written:

1. the file must be a JSON object; top-level keys starting with `_` (`_comment`) are
   documentation and are dropped before validation;
2. each section is a frozen pydantic dataclass with `extra="forbid"` (an unknown key is refused,
   the known ones listed) and required fields (a missing key is refused); a dataclass rather
   than a BaseModel so that callers building one positionally (treatments.ArmWeights) or with
   `dataclasses.replace` keep working, and are validated;
3. `strict=True`: each value must have the annotated type exactly (`true` is not an integer,
   `"1"` is not a number, `1` is not true; an integer is accepted where a number is expected,
   a JSON list where a tuple is);
4. value rules are part of the types (`Field(ge=...)`, finite weights) or validators on them:
   departments against contract.DEPARTMENTS, strategies against strategies.STRATEGIES, the
   bandit's context against the candidate columns, URL templates (`check_template`); rules that
   span fields (weights not all 0, priors only for listed strategies, the exploration floor) are
   a model validator per section.

A section built in code (`SelectionRules(...)`, `dataclasses.replace(...)`) goes through the same
validation. Every problem is a `SettingsError` (a VehicleRecsError: the CLI prints it as one
line) that names the file and the key, e.g. `config/selection.json: department_caps.apparl:
unknown department ...`; when pydantic finds several, the first is shown and the others counted.

Arm names in arms.json are checked against the arm registry, which lives in treatments.py (it
includes the bandit arm, which reads its settings from here): `load_arms` takes the registered
names from its caller instead of importing the registry, so this module imports no arm.

One rule spans two files: the per-email apparel cap (selection.json `department_caps.apparel`)
must not exceed the dbt var `max_apparel_candidates` (the most apparel products in a customer's
candidate pool, built in SQL); `check_apparel_caps` checks it when a run starts.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import field, fields
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

import numpy as np
from pydantic import AfterValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from vehicle_recs.contract import APPAREL, DEPARTMENTS
from vehicle_recs.errors import VehicleRecsError
from vehicle_recs.strategies import known_strategies
from vehicle_recs.warehouse import CANDIDATE_SCHEMA


class SettingsError(VehicleRecsError, ValueError):
    """A settings file (or a section built in code) breaks a rule: one line naming file and key.

    Also a ValueError because pydantic relies on it: a validator's ValueError becomes part of
    the ValidationError, which `_one_line_errors` turns into one SettingsError naming the key
    (any other exception would escape pydantic without the key's location)."""


# Every section: unknown keys refused, no type coercion (an int is still accepted for a float;
# a list for a tuple only where the type says Field(strict=False)).
SECTION = ConfigDict(extra="forbid", strict=True)
T = TypeVar("T")


def _one_line_errors(section: type[T]) -> type[T]:
    """Construction in code (`Section(...)`, `dataclasses.replace`) raises SettingsError too."""
    validate = section.__init__

    @functools.wraps(validate)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            validate(self, *args, **kwargs)
        except ValidationError as error:
            raise SettingsError(_explain(error, section)) from None

    section.__init__ = __init__  # type: ignore[method-assign]
    return section


# ---------------------------------------------------------------------------------------------
# value types: names checked against their registries


def _department(name: str) -> str:
    if name not in DEPARTMENTS:
        raise SettingsError(f"unknown department '{name}' (known: {', '.join(DEPARTMENTS)})")
    return name


def _strategy(name: str) -> str:
    known = known_strategies()
    if name not in known:
        raise SettingsError(f"'{name}' is not a registered strategy (known: "
                            f"{', '.join(sorted(known))})")
    return name


def _candidate_column(name: str) -> str:
    if name not in CANDIDATE_SCHEMA.names:
        raise SettingsError(f"'{name}' is not a column of the final candidates "
                            "(fct_recommendation_candidates)")
    return name


# What a payload URL template may name: {content} is the opaque code of (campaign, arm), never
# the arm itself (payloads.content_code).
PLACEHOLDER = re.compile(r"\{(\w+)\}")
PLACEHOLDERS = ("campaign_id", "content", "sku")


def check_template(template: str) -> None:
    """A URL template names only PLACEHOLDERS; {treatment} would show customers the arm."""
    for name in PLACEHOLDER.findall(template):
        if name == "treatment":
            raise SettingsError(f"URL template {template!r}: {{treatment}} would show customers "
                                "the arm's name; use {content} (an opaque code of campaign and "
                                "arm)")
        if name not in PLACEHOLDERS:
            raise SettingsError(f"URL template {template!r}: unknown placeholder {{{name}}} (use "
                                + ", ".join(f"{{{known}}}" for known in PLACEHOLDERS) + ")")


def _template(template: str) -> str:
    check_template(template)
    return template


Department = Annotated[str, AfterValidator(_department)]
Strategy = Annotated[str, AfterValidator(_strategy)]
Template = Annotated[str, AfterValidator(_template)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# strict refuses a list for a tuple; JSON has only lists (the items stay strict)
Prior = Annotated[tuple[float, float], Field(strict=False)]
Strategies = Annotated[tuple[Strategy, ...], Field(strict=False)]


# ---------------------------------------------------------------------------------------------
# sections


@_one_line_errors
@dataclass(frozen=True, config=SECTION)
class ArmsConfig:
    """arms.json: the weight of each treatment arm (any scale, normalized by treatments.py), the
    assignment hash's salt, and whether control is the same customers in every campaign."""

    FILE: ClassVar[str] = "arms.json"

    weights: Mapping[str, Weight]
    salt: str = ""
    persistent_holdout: bool = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        if sum(self.weights.values()) <= 0:
            raise SettingsError("weights: arm weights must add up to more than 0")
        return self

    def check_arms(self, registered: Collection[str]) -> None:
        """Every weighted arm must be registered (treatments.known_arms)."""
        for name in self.weights:
            if name not in registered:
                raise SettingsError(f"weights.{name}: unknown treatment arm '{name}' "
                                    f"(known: {', '.join(sorted(registered))})")


@_one_line_errors
@dataclass(frozen=True, config=SECTION)
class BanditConfig:
    """bandit.json: the strategies the bandit arm chooses among, its context column, priors,
    Monte Carlo draws, exploration floor and seed (bandit.py explains each)."""

    FILE: ClassVar[str] = "bandit.json"

    strategies: Strategies = tuple(known_strategies())
    context: Annotated[str, AfterValidator(_candidate_column)] = "vehicle_make"
    no_context: str = "none"
    prior_alpha: float = 1.0
    prior_beta: float = 250.0
    priors: Mapping[str, Prior] = field(default_factory=dict)
    propensity_draws: Annotated[int, Field(ge=100)] = 4000
    min_propensity: Annotated[float, Field(ge=0)] = 0.02
    seed: int = 0
    salt: str = "vehicle_recs/bandit/v1"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.strategies:
            raise SettingsError("strategies: the bandit needs at least one strategy")
        if len(set(self.strategies)) != len(self.strategies):
            raise SettingsError("strategies: bandit strategies are listed twice")
        for name in self.priors:
            if name not in self.strategies:
                raise SettingsError(f"priors.{name}: not one of the bandit's strategies "
                                    f"({', '.join(self.strategies)})")
        for name, (alpha, beta) in {**self.priors, "default": (self.prior_alpha,
                                                               self.prior_beta)}.items():
            if not (alpha > 0 and beta > 0):
                key = "prior_alpha/prior_beta" if name == "default" else f"priors.{name}"
                raise SettingsError(f"{key}: bandit prior for '{name}' must have alpha, beta > 0")
        if not self.min_propensity * len(self.strategies) < 1:
            raise SettingsError("min_propensity: min_propensity x number of strategies must be "
                                "in [0, 1)")
        return self

    def prior(self) -> tuple[np.ndarray, np.ndarray]:
        """Prior alpha and beta per strategy (config order)."""
        pairs = [self.priors.get(name, (self.prior_alpha, self.prior_beta))
                 for name in self.strategies]
        return (np.array([a for a, _ in pairs], dtype=np.float64),
                np.array([b for _, b in pairs], dtype=np.float64))


@_one_line_errors
@dataclass(frozen=True, config=SECTION)
class PayloadsConfig:
    """payloads.json: link tracking, the URL of products without one, preview size and how much
    of the written file is read back (payloads.py, payload_schema.py, runner.write_outputs)."""

    FILE: ClassVar[str] = "payloads.json"

    tracking: Mapping[str, Template]
    product_url_template: Template
    preview_emails: Annotated[int, Field(ge=0)] = 8
    sample_validation_lines: Annotated[int, Field(ge=0)] = 100
    revalidate_written_file: bool = False


@_one_line_errors
@dataclass(frozen=True, config=SECTION)
class SelectionRules:
    """selection.json: how many items an email shows and what limits its mix (selection.py)."""

    FILE: ClassVar[str] = "selection.json"

    items: int = 6
    department_caps: Mapping[Department, Annotated[int, Field(ge=0)]] = field(
        default_factory=dict)
    max_per_category: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.items < 1:  # not Field(ge=1): the message names the CLI option that sets it
            raise SettingsError(f"items: --items must be at least 1, got {self.items}")
        return self


# ---------------------------------------------------------------------------------------------
# the loader


Section = TypeVar("Section", ArmsConfig, BanditConfig, PayloadsConfig, SelectionRules)


# pydantic's wording where it speaks Python (tuple, dictionary) to someone editing JSON
JSON_WORDING = {
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "tuple_type": "must be a list",
    "dict_type": "must be an object",
    "mapping_type": "must be an object",
    "greater_than_equal": "must be >= {ge}",
    "too_long": "must have at most {max_length} items",
}


def _explain(error: ValidationError, section: type) -> str:
    """pydantic's errors as one line: the first as `key.path: problem`, the others counted."""
    problems = error.errors()
    item = problems[0]
    path = ""
    for i, part in enumerate(item["loc"]):
        if i == 0 and isinstance(part, int):  # a positional argument in code
            part = fields(section)[part].name
        if part != "[key]":  # a refused mapping key: the path already ends with it
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    cause = item.get("ctx", {}).get("error")
    if isinstance(cause, SettingsError):  # our own rules: their message as written
        message = str(cause)
    elif item["type"] == "missing":
        message = "missing key" if isinstance(item["loc"][-1], str) else "missing item"
    elif item["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        message = (f"unknown key (known: {', '.join(f.name for f in fields(section))}; keys "
                   "starting with _ are comments)")
    else:
        wording = JSON_WORDING.get(item["type"])
        message = (wording.format(**item.get("ctx", {})) if wording
                   else item["msg"].replace("Input should be", "must be"))
        message += f", got {item['input']!r}"
    more = len(problems) - 1
    return ((f"{path}: " if path else "") + message
            + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


def _source(file: str, path: Path | None) -> str:
    return f"config/{file}" if path is None else str(path)


def _read_json(file: str, path: Path | None = None) -> tuple[str, dict[str, Any]]:
    """(name shown in errors, the object) of a settings file: `path`, else `config/<file>`
    shipped in the package."""
    source = _source(file, path)
    if path is None:
        text = resources.files("vehicle_recs").joinpath(source).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{source}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{source}: must hold a JSON object, got {type(data).__name__}")
    return source, data


def load_section(section: type[Section], path: Path | None = None,
                 **overrides: Any) -> Section:
    """The section from its file (`path`, else the shipped `config/<section.FILE>`), `overrides`
    (checked the same way) replacing the file's values; errors name the file and the key."""
    source, data = _read_json(section.FILE, path)
    values = {key: value for key, value in data.items() if not key.startswith("_")}
    values.update(overrides)
    if overrides:
        source += f" (with {', '.join(sorted(overrides))} given)"
    try:
        return section(**values)
    except SettingsError as error:
        raise SettingsError(f"{source}: {error}") from None


def load_arms(path: Path | None = None, *, registered: Collection[str]) -> ArmsConfig:
    """arms.json, every weighted arm among `registered` (treatments.known_arms)."""
    config = load_section(ArmsConfig, path)
    try:
        config.check_arms(registered)
    except SettingsError as error:
        raise SettingsError(f"{_source(ArmsConfig.FILE, path)}: {error}") from None
    return config


def load_bandit(path: Path | None = None, **overrides: Any) -> BanditConfig:
    """bandit.json; keyword arguments replace single settings (tests, simulations)."""
    return load_section(BanditConfig, path, **overrides)


def load_payloads(path: Path | None = None) -> PayloadsConfig:
    return load_section(PayloadsConfig, path)


def load_selection(path: Path | None = None, items: int | None = None) -> SelectionRules:
    """selection.json; `items` (`run --items`) overrides K."""
    return load_section(SelectionRules, path, **({} if items is None else {"items": items}))


def check_apparel_caps(rules: SelectionRules, max_apparel_candidates: Any) -> None:
    """The per-email apparel cap must not exceed the candidate pool's.

    dbt var `max_apparel_candidates` keeps at most that many apparel products among a
    customer's candidates (SQL); selection.json `department_caps.apparel` keeps at most that
    many in the email, picked from those candidates. A per-email cap above the pool's could
    never be reached, so a config that says so is a mistake in one of the two places. No
    apparel cap in selection.json means the pool's cap is the only limit.
    """
    if isinstance(max_apparel_candidates, bool) or not isinstance(max_apparel_candidates, int):
        raise SettingsError(f"dbt var max_apparel_candidates must be an integer, got "
                            f"{max_apparel_candidates!r}")
    per_email = rules.department_caps.get(APPAREL)
    if per_email is not None and per_email > max_apparel_candidates:
        raise SettingsError(
            f"config/{SelectionRules.FILE}: department_caps.{APPAREL} = {per_email} exceeds dbt "
            f"var max_apparel_candidates = {max_apparel_candidates} (an email's apparel comes "
            "from the customer's candidates): lower the cap or raise the var")
