"""Where the dbt project is, and how dbt is invoked: the one place that runs dbt.

The package lives in `<repo>/python/`; the dbt project is the repository root. dbt runs
in-process through `dbtRunner`, one invocation at a time, with the profile taken from
`profiles.yml.example` (copied into `target/profiles/`) unless `DBT_PROFILES_DIR` names another.

Every invocation appends dbt's console lines (START / OK / PASS / WARN per node, the summary)
to `<target>/dbt_console.log`. When a progress hook is given (`invoke(..., on_event=...)` or
`with progress_hook(...)`, as the CLI does), dbt prints nothing on stdout: the hook gets
`DbtEvent`s (n of N nodes, current node, each node's result) to draw a progress bar instead.
dbt's own debug log (logs/dbt.log) is kept either way.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from vehicle_recs.errors import VehicleRecsError

if TYPE_CHECKING:
    from dbt_common.events.base_types import EventMsg

PROFILE_TEMPLATE = "profiles.yml.example"
CONSOLE_LOG = "dbt_console.log"
RUN_LOCK = "vehicle-recs-run.lock"  # in the target folder; see DbtProject.exclusive
CONSOLE_LOG_MAX_BYTES = 10 * 1024 * 1024  # started afresh beyond this
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class DbtError(VehicleRecsError):
    """dbt failed: a compile error or a failing test (a guardrail)."""


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) or SIGTERM: raised from the CLI's signal handler, and again by `invoke`
    when dbt swallowed it (dbt turns an interrupt into a failed command)."""


# Signals received by the CLI's handler (cli.main clears it): an invocation during which one
# arrived never looks like an ordinary dbt failure a caller might tolerate.
signals_received: list[int] = []


@dataclass(frozen=True)
class NodeResult:
    """How one node ended, from dbt's NodeFinished event (its run result)."""

    name: str
    resource_type: str  # model, seed, test, unit_test, ...
    status: str  # success, pass, warn, fail, error, skipped, ...
    failures: int | None = None  # rows a test found (warn / fail)


@dataclass(frozen=True)
class DbtEvent:
    """Progress of one dbt invocation, for a display.

    kind: "start" (before dbt parses), "total" (dbt announced the selected node count, or
    corrected it: `build` adds its unit tests once the first node starts), "node" (a node
    started), "result" (a node finished: `result`), "end" (dbt returned).
    """

    kind: Literal["start", "total", "node", "result", "end"]
    command: str  # the dbt subcommand: build, run, seed, ...
    done: int = 0  # nodes finished so far
    total: int = 0  # nodes selected; 0 until "total"
    node: str = ""  # the node that started or finished
    result: NodeResult | None = None
    seconds: float = 0.0  # "end": wall time of the invocation
    success: bool = True  # "end": whether dbt succeeded
    log_path: Path | None = None  # dbt's console lines of this invocation


ProgressHook = Callable[[DbtEvent], None]
_PROGRESS_HOOK: ContextVar[ProgressHook | None] = ContextVar("dbt_progress_hook", default=None)


@contextmanager
def progress_hook(hook: ProgressHook) -> Iterator[None]:
    """Send the events of every `DbtProject.invoke` in this block to `hook` (and keep dbt quiet
    on stdout), also for projects created deep inside runner / backtest / report."""
    token = _PROGRESS_HOOK.set(hook)
    try:
        yield
    finally:
        _PROGRESS_HOOK.reset(token)


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


class RunLocked(VehicleRecsError):
    """Another run holds the project's target folder or DuckDB file."""


@contextmanager
def _flocked(path: Path, holder: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:  # "a+": never truncate a holder's note
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            note = handle.read().strip() or "another process"
            raise RunLocked(f"another run is using {path.parent}: {note} "
                            f"(lock {path}); wait for it to finish") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(holder + "\n")
            handle.flush()
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


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

    def with_vars(self, dbt_vars: Mapping[str, Any], **changes: Any) -> DbtProject:
        """A copy with `dbt_vars` on top of this project's vars (and any other field changed):
        a run adds its own vars to a copy, so the caller's project carries none of them into
        its next run."""
        return replace(self, dbt_vars={**self.dbt_vars, **dbt_vars}, **changes)

    def var(self, name: str) -> Any:
        """A dbt var as this project's builds see it: its override in `dbt_vars`, else its
        default in dbt_project.yml."""
        if name in self.dbt_vars:
            return self.dbt_vars[name]
        import yaml  # type: ignore[import-untyped]

        config = yaml.safe_load((self.project_dir / "dbt_project.yml").read_text())
        return config["vars"][name]

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
        if self.target:  # also for a profile ($DBT_PROFILES_DIR) whose default is another output
            args += ["--target", self.target]
        if dbt_vars:
            args += ["--vars", json.dumps(dbt_vars, default=str)]
        return args

    @contextmanager
    def exclusive(self, holder: str) -> Iterator[None]:
        """Hold this project's target folder and DuckDB file for one run, or raise RunLocked
        naming the run that holds them (`holder` is what a second run is told about this one).

        Two runs in one checkout share the manifest and the warehouse: without the lock one
        run's payloads could be read from the other's build. `flock` locks are released by the
        OS when the process ends, so a killed run leaves no stale lock.
        """
        paths = [self.target_dir / RUN_LOCK]
        if self.duckdb_path is not None:
            paths.append(self.duckdb_path.with_name(self.duckdb_path.name + ".lock"))
        with ExitStack() as stack:
            for path in paths:
                stack.enter_context(_flocked(path, holder))
            yield

    @property
    def console_log(self) -> Path:
        """dbt's console output (per-node lines and summary), appended by every invocation."""
        return self.target_dir / CONSOLE_LOG

    def invoke(self, command: Sequence[str], extra_vars: Mapping[str, Any] | None = None, *,
               on_event: ProgressHook | None = None) -> Any:
        """Run one dbt command in-process; raise DbtError naming what failed.

        `on_event` (default: the hook of an enclosing `progress_hook` block) receives DbtEvents;
        with a hook, dbt's stdout is silenced (its lines are in `console_log` either way).
        """
        from dbt.cli.main import dbtRunner

        hook = on_event or _PROGRESS_HOOK.get()
        args = self.args(command, extra_vars)
        if hook is not None and "--log-level" not in command:
            # --log-level none drops dbt's stdout logger; unless --log-level-file is given too,
            # dbt lets the file log follow it to none, so keep dbt.log at its usual level.
            args += ["--log-level", "none"]
            if "--log-level-file" not in command:
                args += ["--log-level-file", os.environ.get("DBT_LOG_LEVEL_FILE", "debug")]
        recorder = _Recorder(command[0], self.console_log, hook)
        signals_before = len(signals_received)
        previous = {key: os.environ.get(key) for key in self.environ()}
        os.environ.update(self.environ())
        started = time.perf_counter()
        try:
            with recorder.open(" ".join(command)):
                result = dbtRunner(callbacks=[recorder]).invoke(args)
                recorder.finish(time.perf_counter() - started, bool(result.success))
        finally:
            _release_duckdb()
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if len(signals_received) > signals_before:
            raise Interrupted(signals_received[-1])
        if not result.success:
            raise DbtError(_describe_failure(command, result, self.console_log))
        return result.result


class _Recorder:
    """The dbtRunner callback: dbt's console lines to a file, progress events to a hook.

    dbt calls it from its worker threads, hence the lock. An exception in the hook or the file
    would surface inside dbt's threads; the first one is kept, the hook dropped, and it is
    raised once dbt has finished.
    """

    def __init__(self, command: str, log_path: Path, hook: ProgressHook | None) -> None:
        self.command, self.log_path, self.hook = command, log_path, hook
        self.done = self.total = 0
        self.lock = threading.Lock()
        self.file: TextIO | None = None
        self.error: Exception | None = None

    @contextmanager
    def open(self, title: str) -> Iterator[None]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        big = self.log_path.exists() and self.log_path.stat().st_size > CONSOLE_LOG_MAX_BYTES
        # line-buffered, so `tail -f` follows a long build node by node
        with self.log_path.open("w" if big else "a", encoding="utf-8", buffering=1) as file:
            file.write(f"===== dbt {title} ({datetime.now():%Y-%m-%d %H:%M:%S}) =====\n")
            self.file = file
            self._emit(DbtEvent("start", self.command, log_path=self.log_path))
            try:
                yield
            finally:
                with self.lock:  # dbt keeps the callback registered until its next invocation
                    self.file = None
        if self.error is not None:
            raise self.error

    def finish(self, seconds: float, success: bool) -> None:
        self._emit(DbtEvent("end", self.command, self.done, self.total, seconds=seconds,
                            success=success, log_path=self.log_path))

    def __call__(self, msg: EventMsg) -> None:
        from dbt_common.events.functions import env_scrubber

        with self.lock:
            if self.file is None:
                return
            try:
                name = msg.info.name
                if msg.info.level != "debug" and name not in {"CacheAction", "CacheDumpGraph"}:
                    text = ANSI_ESCAPE.sub("", env_scrubber(getattr(msg.info, "msg", "")))
                    self.file.write(f"{datetime.now():%H:%M:%S}  {text}\n")
                if self.hook is None:
                    return
                # N: announced once selection is done (ConcurrencyLine); `build` adds its unit
                # tests only when the first node starts, so the "i of N" lines correct it.
                if name == "ConcurrencyLine":
                    self._set_total(int(msg.data.node_count))
                elif name == "LogStartLine":
                    self._set_total(int(msg.data.total))
                if name in {"NodeStart", "NodeFinished"}:
                    info = msg.data.node_info
                    if info.materialized == "ephemeral":  # not counted in N by dbt either
                        return
                    result = None
                    if name == "NodeFinished":
                        self.done += 1
                        result = NodeResult(info.node_name, info.resource_type,
                                            msg.data.run_result.status,
                                            msg.data.run_result.num_failures)
                    self._emit(DbtEvent("result" if result else "node", self.command, self.done,
                                        self.total, node=info.node_name, result=result))
            except Exception as error:  # noqa: BLE001 - re-raised after dbt, see the docstring
                self.error = self.error or error
                self.hook = None

    def _set_total(self, total: int) -> None:
        if total and total != self.total:
            self.total = total
            self._emit(DbtEvent("total", self.command, self.done, self.total))

    def _emit(self, event: DbtEvent) -> None:
        if self.hook is not None:
            self.hook(event)


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


def _describe_failure(command: Sequence[str], result: Any, log_path: Path) -> str:
    log = f"(log: {display_path(log_path)})"
    if result.exception is not None:
        # dbt's first line is often a bare heading ("Runtime Error"); its next line says what
        lines = [line.strip() for line in str(result.exception).splitlines() if line.strip()]
        detail = ": ".join(lines[:2])[:300] or type(result.exception).__name__
        return f"dbt {command[0]} failed: {detail} {log}"
    failed = []
    for node in getattr(result.result, "results", None) or []:
        status = str(getattr(node, "status", "")).lower()
        if status in {"error", "fail", "runtime error"}:
            failed.append(node.node.name)
    shown = ", ".join(failed[:5]) + (f" (+{len(failed) - 5} more)" if len(failed) > 5 else "")
    return f"dbt {command[0]} failed: {shown or 'no failed node reported'} {log}"


def display_path(path: Path) -> str:
    """`path` relative to the working folder when it is inside it, else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
