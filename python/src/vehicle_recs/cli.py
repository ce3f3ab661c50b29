"""The `vehicle-recs` console script: one clear error line on bad input, a traceback with --debug."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from vehicle_recs.contract import RawDataError, check_raw_dir
from vehicle_recs.project import DbtError, DbtProject

console = Console(stderr=True)

# Errors a person can act on: shown as one line, exit code 2.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (RawDataError, DbtError, ValueError, OSError)


@contextmanager
def _status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner for a long step; the yielded callback updates its text."""
    with console.status(message) as status:
        yield lambda text: status.update(f"{message}: {text}")


@click.group()
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
def synth(scale: str, seed: int, out_dir: Path) -> None:
    """Write synthetic raw tables (SPEC section 3) for a scale and seed."""
    from vehicle_recs import synth as generator

    with _status(f"synth {scale} seed {seed}") as progress:
        counts = generator.generate(scale, seed, out_dir, progress=progress)
    for table, rows in counts.items():
        click.echo(f"{table:<18} {rows:>12,}")


@cli.command()
@click.option("--raw", "raw_dir", type=click.Path(path_type=Path), required=True,
              help="Folder of raw <table>.parquet files.")
@click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Cut-off date; default: the day after the last order.")
@click.option("--select", "select", default=None, help="dbt node selection (default: all).")
def build(raw_dir: Path, as_of: Any, select: str | None) -> None:
    """Run `dbt build` (models, seeds and every test) on DuckDB for a raw folder."""
    check_raw_dir(raw_dir)
    dbt_vars: dict[str, Any] = {"raw_dir": str(raw_dir.resolve())}
    if as_of is not None:
        dbt_vars["as_of"] = as_of.date().isoformat()
    project = DbtProject(dbt_vars=dbt_vars)
    command = ["build"] + (["--select", select] if select else [])
    with _status("dbt build"):
        project.invoke(command)
    click.echo(f"dbt build passed ({project.duckdb_path})")


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        console.print("aborted")
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except EXPECTED_ERRORS as error:
        if debug:
            raise
        console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
