"""The `vehicle-recs` console script: one clear error line on bad input; tracebacks with --debug."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

from vehicle_recs.contract import check_raw_dir
from vehicle_recs.errors import VehicleRecsError, user_path
from vehicle_recs.export import export_command
from vehicle_recs.project import (
    DbtEvent,
    DbtProject,
    Interrupted,
    NodeResult,
    display_path,
    progress_hook,
    signals_received,
)
from vehicle_recs.synth import _config as synth_config

console = Console(stderr=True)

ERROR_STATUSES = {"error", "fail", "runtime error"}
MAX_WARNINGS_SHOWN = 10
WIDE_COLUMNS = 160  # the readout and backtest tables uncut, five strategy columns side by side


class _Day(click.ParamType):
    """An --as-of option: YYYY-MM-DD as a `date` (click.DateTime gives a datetime), so the cut-off
    is a date from the command line to the payload and becomes text only where it is written."""

    name = "date"
    _datetime = click.DateTime(["%Y-%m-%d"])  # its parsing, help and error messages

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return self._datetime.get_metavar(param, ctx)

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        converted: datetime = self._datetime.convert(value, param, ctx)
        return converted.date()


DAY = _Day()

# The dbt profile output a command works on: dev = DuckDB on a local raw folder (the default),
# prod = BigQuery (profiles.yml.example; README "Run it on BigQuery").
target_option = click.option(
    "--target", "target", type=click.Choice(["dev", "prod"]), default="dev", show_default=True,
    help="dev: DuckDB on a local raw folder; prod: BigQuery, the dbt profile's prod output.")


# dbt vars for one invocation, wherever dbt runs (run, build, backtest).
var_option = click.option(
    "--var", "dbt_var", multiple=True, metavar="NAME=VALUE",
    help="Override a dbt var for this invocation (repeatable), e.g. --var lift_weight=0.5.")


def parse_dbt_vars(items: Sequence[str]) -> dict[str, Any]:
    """NAME=VALUE pairs: numbers, booleans, null and lists as JSON, anything else a string."""
    import json

    overrides: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise VehicleRecsError(f"--var expects NAME=VALUE, got {item!r}")
        try:
            overrides[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name.strip()] = value
    return overrides


def stdout_console() -> Console:
    """The console for the tables a command prints on stdout: a terminal's own width; when
    stdout is not a terminal (CI logs, a pipe, a file) rich would assume 80 columns and cut the
    tables, so at least WIDE_COLUMNS."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=max(probe.width, WIDE_COLUMNS))


@contextmanager
def _status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner for a long step; the yielded callback updates its text."""
    with console.status(message) as status:
        yield lambda text: status.update(f"{message}: {text}")


class _DbtBar:
    """Draws the DbtEvents of a step on a progress bar; keeps what the summary needs."""

    def __init__(self, bar: Progress, step: str) -> None:
        self.bar, self.step, self.description = bar, step, step
        self.task: TaskID = bar.add_task(step, total=None, node="")
        self.results: list[NodeResult] = []
        self.seconds = 0.0
        self.log_path: Path | None = None

    def note(self, text: str) -> None:
        """The step's `progress` callback (runner, backtest, report): its current phase."""
        self.description = f"{self.step}: {text}"
        self.bar.update(self.task, description=self.description)

    def __call__(self, event: DbtEvent) -> None:
        if event.kind == "start":  # a new invocation: a fresh bar, N unknown until "total"
            self.log_path = event.log_path
            self.bar.remove_task(self.task)
            self.task = self.bar.add_task(self.description, total=None,
                                          node=f"dbt {event.command}: parsing")
        elif event.kind == "total":
            self.bar.update(self.task, total=event.total, completed=event.done)
        elif event.kind == "node":
            self.bar.update(self.task, node=event.node)
        elif event.kind == "result" and event.result is not None:
            self.results.append(event.result)
            self.bar.update(self.task, completed=event.done)
        elif event.kind == "end":
            self.seconds += event.seconds
            self.bar.update(self.task, node="")


@contextmanager
def _dbt_step(message: str) -> Iterator[Callable[[str], None]]:
    """A progress bar for a step that runs dbt: n of N nodes and the current node (dbt's own
    lines go to its console log). Then, if dbt ran and passed, the tests that warned and one
    summary line. The yielded callback updates the step's text."""
    def text(field: str, ratio: int) -> TextColumn:  # shares the width left by the others
        column = Column(no_wrap=True, overflow="ellipsis", ratio=ratio)
        return TextColumn(f"{{task.{field}}}", markup=False, table_column=column)

    columns = (SpinnerColumn(), text("description", 2), BarColumn(bar_width=20),
               MofNCompleteColumn(), text("fields[node]", 3), TimeElapsedColumn())
    # Not a terminal (CI, pipes, CliRunner): no bar at all; rich would print a blank line on
    # stop. (console.is_interactive is fixed when the console is made; this follows sys.stderr.)
    terminal = console.is_terminal and not console.is_dumb_terminal
    with Progress(*columns, console=console, transient=True, expand=True,
                  disable=not terminal) as bar:
        display = _DbtBar(bar, message)
        with progress_hook(display):
            yield display.note
    if display.results:
        lines = [*warnings_summary(display.results),
                 dbt_summary(display.results, display.seconds, display.log_path)]
        for line in lines:
            console.print(line, markup=False, highlight=False, soft_wrap=True)


def warnings_summary(results: Iterable[NodeResult], limit: int = MAX_WARNINGS_SHOWN) -> list[str]:
    """The tests that warned (run result status 'warn') and the rows each found, most first."""
    warned = sorted((result for result in results if str(result.status).lower() == "warn"),
                    key=lambda result: (-(result.failures or 0), result.name))
    if not warned:
        return []
    width = len(f"{warned[0].failures or 0:,}")
    lines = [f"dbt warnings ({len(warned)}):"]
    lines += [f"  {shown.failures or 0:>{width},} rows  {shown.name}" for shown in warned[:limit]]
    if len(warned) > limit:
        lines.append(f"  ... and {len(warned) - limit} more (see the log)")
    return lines


def dbt_summary(results: Sequence[NodeResult], seconds: float, log_path: Path | None) -> str:
    """One line: nodes, errors, warnings, time and where dbt's console lines are."""
    statuses = [str(result.status).lower() for result in results]
    errors = sum(status in ERROR_STATUSES for status in statuses)
    line = (f"dbt: {len(results)} nodes, {errors} errors, {statuses.count('warn')} warnings "
            f"in {seconds:.0f} s")
    if log_path is not None and log_path.exists():  # a backtest's temporary folder is gone
        line += f"; log: {display_path(log_path)}"
    return line


@click.group()
@click.version_option(package_name="vehicle-recs", prog_name="vehicle-recs")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Vehicle-aware product recommendations: synthetic data, dbt build, payloads, readouts."""
    ctx.obj = {"debug": debug}


@cli.command()
@click.option("--scale", type=click.Choice(["xs", "s", "m", "l"]), default="xs", show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for <table>.parquet files.")
@click.option("--taste", type=click.FloatRange(0, 1), default=synth_config.DEFAULT_TASTE,
              show_default=True,
              help="Share of each customer's vehicle-fitted lines drawn within their 1-3 "
                   "favourite hard-parts categories (persistent taste); 0 = no taste.")
@click.option("--rebuy", type=click.FloatRange(min=0), default=synth_config.DEFAULT_REBUY,
              show_default=True,
              help="Multiplier of every consumable SKU's re-buy probability per cycle (capped "
                   "at 0.95); 0 = nobody re-buys a SKU on its cycle.")
@click.option("--season", type=click.FloatRange(min=0), default=synth_config.DEFAULT_SEASON,
              show_default=True,
              help="Strength of month-of-year seasonality of hard-parts categories: a "
                   "category's weight in a month is 1 + SEASON x its profile (-1..1); "
                   "0 = no seasonality.")
@click.option("--new-vehicle", type=click.FloatRange(min=0),
              default=synth_config.DEFAULT_NEW_VEHICLE, show_default=True,
              help="A vehicle added to the garage starts a project: extra orders for it at "
                   "NEW_VEHICLE x the customer's usual order rate, fading over ~2 months; "
                   "0 = adding a vehicle changes nothing.")
@click.option("--holdout", type=click.FloatRange(0, 0.5), default=0.0, show_default=True,
              help="Share of each campaign's customers in a control arm (no email); >0 also "
                   "writes the assignment log to OUT/assignment_log.")
@click.option("--email-lift", "email_lift", type=click.FloatRange(0, 1), default=0.0,
              show_default=True,
              help="Probability that a delivered email sells one of its items within 3 days "
                   "(a known incremental effect for the intent-to-treat readout).")
@click.option("--arrivals", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of the active hard parts introduced during the data's last year "
                   "(created then, no sales before): new arrivals to recommend.")
def synth(scale: str, seed: int, out_dir: Path, taste: float, rebuy: float,
          season: float, new_vehicle: float, holdout: float, email_lift: float,
          arrivals: float) -> None:
    """Write synthetic raw tables for a scale, seed and structure knobs (see the manifest)."""
    from vehicle_recs import synth as generator

    with (_status(f"synth {scale} seed {seed}") as progress,
          user_path(out_dir, "write the raw tables to")):
        counts = generator.generate(scale, seed, out_dir, progress=progress, taste=taste,
                                    rebuy=rebuy, season=season, new_vehicle=new_vehicle,
                                    holdout=holdout, email_lift=email_lift,
                                    arrivals=arrivals)
    for table, rows in counts.items():
        click.echo(f"{table:<18} {rows:>12,}")


@cli.command()
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), required=True,
              help="Folder of raw <table>.parquet files.")
@click.option("--as-of", "as_of", type=DAY, default=None,
              help="Cut-off date; default: the day after the last order.")
@click.option("--select", "select", default=None, help="dbt node selection (default: all).")
@click.option("--selector", "selector", default=None,
              help="A dbt selector of selectors.yml (weekly, backtest, report); not with --select.")
@var_option
def build(raw_dir: Path, as_of: date | None, select: str | None, selector: str | None,
          dbt_var: tuple[str, ...]) -> None:
    """Run `dbt build` (models, seeds and every test) on DuckDB for a raw folder."""
    if select and selector:
        raise VehicleRecsError("--select and --selector exclude each other: use one")
    check_raw_dir(raw_dir)
    dbt_vars: dict[str, Any] = {**parse_dbt_vars(dbt_var), "raw_dir": str(raw_dir.resolve())}
    if as_of is not None:
        dbt_vars["as_of"] = as_of.isoformat()
    project = DbtProject(dbt_vars=dbt_vars)
    command = ["build"] + (["--select", select] if select else [])
    command += ["--selector", selector] if selector else []
    with _dbt_step("dbt build"):
        project.invoke(command)
    click.echo(f"dbt build passed ({project.duckdb_path})")


@cli.command()
@target_option
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None,
              help="Build the reporting marts (and their parents) from this raw folder first "
                   "(--target dev; prod always builds them from the raw dataset and the log).")
@click.option("--as-of", "as_of", type=DAY, default=None,
              help="Cut-off date for --raw builds; default: the day after the last order.")
@click.option("--campaign", default=None, help="Only this campaign (default: all, pooled).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/report"),
              show_default=True, help="Folder for report.html.")
@click.option("--backtest", "backtest", type=click.Path(path_type=Path), default=None,
              help="A backtest result (CSV/JSON with strategy, match_rate) to chart.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def report(target: str, raw_dir: Path | None, as_of: date | None, campaign: str | None,
           out_dir: Path, backtest: Path | None, as_json: bool) -> None:
    """Experiment readout and revenue mix: terminal table or JSON, plus report.html."""
    import json

    from vehicle_recs import report as reporting

    dbt_vars: dict[str, Any] = {}
    if raw_dir is not None:
        from vehicle_recs.bandit import assignment_log_dir
        from vehicle_recs.runner import FileAssignmentLog

        check_raw_dir(raw_dir)
        # the log `run` appends to (sample-ratio check, intent to treat), once it exists
        dbt_vars.update(raw_dir=str(raw_dir.resolve()),
                        **FileAssignmentLog(assignment_log_dir()).dbt_vars())
    if as_of is not None:
        dbt_vars["as_of"] = as_of.isoformat()
    project, client = DbtProject(dbt_vars=dbt_vars), None
    if target == "prod":
        if raw_dir is not None:
            raise VehicleRecsError("--raw is read by --target dev only: on prod, load the folder "
                                   "with `vehicle-recs load-raw --target prod RAW` first")
        project, client = reporting.bigquery_project(dbt_vars)
    build = raw_dir is not None or target == "prod"
    with _dbt_step("report") as progress:
        if build:
            progress("dbt build of the reporting marts")
        data, html_path = reporting.run_report(project, out_dir, campaign=campaign,
                                               build=build, backtest=backtest, client=client)
    if as_json:
        click.echo(json.dumps(reporting.report_json(data, html_path)))
    else:
        reporting.print_terminal(data, stdout_console(), html_path)


@cli.command()
@target_option
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of raw <table>.parquet files (--target dev; prod reads the raw "
                   "dataset filled by load-raw).")
@click.option("--dataset-suffix", "dataset_suffix", default="_backtest", show_default=True,
              help="--target prod: build into the profile's dataset + this suffix.")
@click.option("--as-of", "as_of", type=DAY, required=True,
              help="Cut-off D: recommend from data before D, score purchases in [D, D+horizon).")
@click.option("--horizon", "horizon", type=int, default=60, show_default=True,
              help="Days after D whose completed purchase lines are matched.")
@click.option("--k", "k", type=int, default=6, show_default=True, help="Items per customer.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write the metrics table (.csv, .parquet or .json).")
@click.option("--work-dir", "work_dir", type=click.Path(path_type=Path), default=None,
              help="Keep the backtest's DuckDB and dbt target here (default: a temp folder).")
@var_option
@click.option("--objectives", "objectives", default="", metavar="LIST",
              help="Also measure the engine under these ranking objectives (comma-separated, "
                   "of match, blend, revenue), one column each.")
def backtest(target: str, raw_dir: Path | None, dataset_suffix: str, as_of: date, horizon: int,
             k: int, out: Path | None, work_dir: Path | None, dbt_var: tuple[str, ...],
             objectives: str) -> None:
    """Match-rate backtest of this engine against the old engine, raw counts, a heuristic and
    random: the match split into re-buy and new-item lines, and the calibration of the scores
    that are purchase probabilities."""
    from vehicle_recs import backtest as backtesting

    if target == "dev":
        if raw_dir is None:
            raise VehicleRecsError("--raw RAW is needed with --target dev")
        check_raw_dir(raw_dir)
    overrides = parse_dbt_vars(dbt_var)
    with _dbt_step("backtest") as progress:
        result = backtesting.run_backtest(
            raw_dir, as_of, horizon, k, work_dir=work_dir, dbt_vars=overrides,
            progress=progress,
            objectives=[name.strip() for name in objectives.split(",") if name.strip()],
            target=target, dataset_suffix=dataset_suffix)
    tables = stdout_console()
    tables.print(backtesting.render_table(result))
    calibration = backtesting.render_calibration(result)
    if calibration is not None:
        tables.print(calibration)
    if out is not None:
        click.echo(f"wrote {backtesting.write_result(result, out)}")


@cli.command("load-raw")
@target_option
@click.argument("raw_dir", type=click.Path(path_type=Path))
def load_raw(target: str, raw_dir: Path) -> None:
    """Check RAW_DIR against the raw contract; on prod, load its ten tables into the raw dataset.

    prod: one BigQuery load job per table with the contract's schema, each table replaced whole.
    Every file is checked first: one that breaks the contract stops before anything is loaded.
    dev reads the folder in place (`run --raw RAW_DIR`): only the check runs.
    """
    check_raw_dir(raw_dir)  # before any connection: nothing is loaded from a broken folder
    if target == "dev":
        click.echo(f"{raw_dir}: the raw tables keep the contract; --target dev reads the folder "
                   f"in place (vehicle-recs run --raw {raw_dir})")
        return
    from vehicle_recs import bigquery_io

    bigquery = bigquery_io.connect(DbtProject(target=target))
    with _status(f"load-raw into {bigquery.project}.{bigquery.raw_dataset}") as progress:
        counts = bigquery_io.load_raw_tables(bigquery, raw_dir, progress)
    for table, rows in counts.items():
        click.echo(f"{table:<18} {rows:>12,}")
    click.echo(f"loaded into {bigquery.project}.{bigquery.raw_dataset}")


@cli.command()
@target_option
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), default=None,
              help="Folder of raw <table>.parquet files (--target dev; prod reads the raw "
                   "dataset filled by load-raw).")
@click.option("--as-of", "as_of", type=DAY, default=None,
              help="Cut-off date; default: the day after the last order.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Output folder: payloads.jsonl, assignments.csv, preview.html, ...")
@click.option("--items", type=int, default=None, help="Items per email (default 6, config).")
@click.option("--campaign", "campaign_id", default=None,
              help="Campaign id (default recs-<as-of>); also seeds the random arm.")
@click.option("--treatment", default=None,
              help="Force one arm for every customer (personalized, random, control, ...).")
@var_option
def run(target: str, raw_dir: Path | None, as_of: date | None, out_dir: Path, items: int | None,
        campaign_id: str | None, treatment: str | None, dbt_var: tuple[str, ...]) -> None:
    """dbt build (tests included), then email payloads, assignments, preview and a summary."""
    from vehicle_recs import runner

    options = runner.RunOptions(raw_dir=raw_dir, out_dir=out_dir,
                                as_of=as_of, items=items,
                                campaign_id=campaign_id, treatment=treatment, target=target,
                                dbt_vars=parse_dbt_vars(dbt_var))
    with _dbt_step("run") as progress:
        summary = runner.run(options, progress=progress)
    click.echo(runner.format_summary(summary))


@cli.command()
@target_option
def estimate(target: str) -> None:
    """Bytes the weekly build would process on BigQuery, per model and test (dry runs)."""
    from vehicle_recs import estimate as estimating

    if target != "prod":
        raise VehicleRecsError("estimate needs --target prod: dry runs are a BigQuery feature")
    project, client = estimating.prod_project()
    with _status("dry runs of the weekly build") as progress:
        estimates = estimating.estimate_weekly(project, client, progress)
    click.echo(estimating.format_estimates(estimates))


cli.add_command(export_command)




def _interrupt(signum: int, _frame: object) -> None:
    signals_received.append(signum)
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    # Not KeyboardInterrupt: dbt and click catch that and re-raise something else (dbt ended
    # in an IndexError traceback). Outputs are only ever replaced from a finished staging
    # folder, so an interrupted run leaves the previous ones as they were.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    signals_received.clear()
    try:
        try:
            cli.main(args=argv, standalone_mode=False)
        except BaseException:
            if signals_received:  # dbt turns the interrupt into a failed build
                raise Interrupted(signals_received[0]) from None
            raise
    except Interrupted as stop:
        signum = int(stop.args[0])
        console.print(f"interrupted ({signal.Signals(signum).name}): stopped, earlier outputs "
                      "left as they were")
        return 128 + signum  # 130 for Ctrl-C
    except click.exceptions.Abort:
        console.print("aborted")
        return 1
    except click.UsageError as error:  # a bad option or value: one line, as other bad input
        hint = f" (vehicle-recs {error.ctx.command_path.split(' ', 1)[-1]} --help)" \
            if error.ctx is not None and " " in error.ctx.command_path else ""
        console.print(f"[red]error:[/red] {error.format_message()}{hint}", highlight=False,
                      soft_wrap=True)
        return error.exit_code
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except VehicleRecsError as error:  # one a person can act on; anything else is a bug
        if debug:
            raise
        console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
