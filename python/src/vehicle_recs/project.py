"""Where the dbt project is, and how dbt is invoked: the one place that runs dbt.

The package lives in `<repo>/python/`; the dbt project is the repository root. dbt runs
in-process through `dbtRunner`, one invocation at a time, with the profile taken from
`profiles.yml.example` (copied into `target/profiles/`) unless `DBT_PROFILES_DIR` names another.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILE_TEMPLATE = "profiles.yml.example"


class DbtError(RuntimeError):
    """dbt failed: a compile error or a failing test (a guardrail)."""


def find_project_dir(start: Path | None = None) -> Path:
    """The dbt project: $VEHICLE_RECS_PROJECT_DIR, else the nearest folder with dbt_project.yml."""
    env = os.environ.get("VEHICLE_RECS_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    candidates = [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]
    if start is not None:
        candidates.insert(0, start.resolve())
    for folder in candidates:
        if (folder / "dbt_project.yml").is_file():
            return folder
    raise DbtError("cannot find dbt_project.yml; set VEHICLE_RECS_PROJECT_DIR")


@dataclass
class DbtProject:
    """A dbt invocation context: project folder, DuckDB file and vars for one run."""

    project_dir: Path = field(default_factory=find_project_dir)
    duckdb_path: Path | None = None
    target: str | None = None
    # dbt's target/ folder (manifest, compiled SQL); separate runs in parallel need their own.
    target_path: Path | None = None
    dbt_vars: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.project_dir = self.project_dir.resolve()
        # Environment overrides let parallel runs (tests, backtests) keep their own files.
        if self.target_path is None and os.environ.get("DBT_TARGET_PATH"):
            self.target_path = Path(os.environ["DBT_TARGET_PATH"])
        if self.target_path is not None:
            self.target_path = self.target_path.resolve()
        if self.duckdb_path is None:
            env_db = os.environ.get("VEHICLE_RECS_DUCKDB_PATH")
            self.duckdb_path = Path(env_db) if env_db else self.project_dir / "vehicle_recs.duckdb"

    @property
    def target_dir(self) -> Path:
        return self.target_path or self.project_dir / "target"

    def profiles_dir(self) -> Path:
        env = os.environ.get("DBT_PROFILES_DIR")
        if env:
            return Path(env)
        folder = self.target_dir / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.project_dir / PROFILE_TEMPLATE, folder / "profiles.yml")
        return folder

    def environ(self) -> dict[str, str]:
        env = {"VEHICLE_RECS_DUCKDB_PATH": str(self.duckdb_path)}
        if self.target:
            env["VEHICLE_RECS_TARGET"] = self.target
        return env

    def args(
        self, command: Sequence[str], extra_vars: Mapping[str, Any] | None = None
    ) -> list[str]:
        dbt_vars = {**self.dbt_vars, **(extra_vars or {})}
        args = [*command, "--project-dir", str(self.project_dir),
                "--profiles-dir", str(self.profiles_dir()), "--target-path", str(self.target_dir)]
        if dbt_vars:
            args += ["--vars", json.dumps(dbt_vars, default=str)]
        return args

    def invoke(self, command: Sequence[str], extra_vars: Mapping[str, Any] | None = None) -> Any:
        """Run one dbt command in-process; raise DbtError naming what failed."""
        from dbt.cli.main import dbtRunner

        previous = {key: os.environ.get(key) for key in self.environ()}
        os.environ.update(self.environ())
        try:
            result = dbtRunner().invoke(self.args(command, extra_vars))
        finally:
            _release_duckdb()
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if not result.success:
            raise DbtError(_describe_failure(command, result))
        return result.result


def _release_duckdb() -> None:
    """Close the DuckDB handle dbt-duckdb keeps open in-process after an invocation.

    Without it, opening the same file again from this process (e.g. read-only, to read the
    final model) fails with "Can't open a connection to same database file with a different
    configuration".
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def _describe_failure(command: Sequence[str], result: Any) -> str:
    if result.exception is not None:
        return f"dbt {command[0]} failed: {str(result.exception).splitlines()[0]}"
    failed = []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node, "status", "")).lower()
        if status in {"error", "fail", "runtimeerror"}:
            failed.append(node.node.name)
    shown = ", ".join(failed[:5]) + (f" (+{len(failed) - 5} more)" if len(failed) > 5 else "")
    return f"dbt {command[0]} failed: {shown or 'see logs/dbt.log'}"
