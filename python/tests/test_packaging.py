"""The installed package holds runtime code only: the wheel is python/src alone, whose code
imports neither the dev tooling (python/dev, `vehicle_recs_dev`) nor any distribution that only
the `dev` extra installs (sqlglot, cryptography, pytest, ...)."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((PYTHON_DIR / "pyproject.toml").read_text(encoding="utf-8"))


def _distribution(requirement: str) -> str:
    """The normalized distribution name of a requirement such as `dbt-core>=1.11,<1.12`."""
    return re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of every absolute import in a Python file (lazy imports included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def test_the_wheel_is_python_src_only() -> None:
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["where"] == ["src"]
    assert (PYTHON_DIR / "dev" / "vehicle_recs_dev" / "__init__.py").is_file()
    runtime = {_distribution(r) for r in PYPROJECT["project"]["dependencies"]}
    dev = {_distribution(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    # The gate's tools are dev-only (cryptography: its throwaway offline key).
    assert {"sqlglot", "cryptography"} <= dev - runtime


def test_runtime_code_imports_no_dev_only_package() -> None:
    runtime = {_distribution(r) for r in PYPROJECT["project"]["dependencies"]}
    dev_only = {_distribution(r)
                for r in PYPROJECT["project"]["optional-dependencies"]["dev"]} - runtime
    owners = packages_distributions()
    sources = sorted((PYTHON_DIR / "src").rglob("*.py"))
    assert sources
    offenders = [
        f"{path.relative_to(PYTHON_DIR)} imports {module}"
        for path in sources
        for module in sorted(_imported_modules(path))
        if module == "vehicle_recs_dev"
        or {_distribution(name) for name in owners.get(module, [])} & dev_only
    ]
    assert offenders == []
