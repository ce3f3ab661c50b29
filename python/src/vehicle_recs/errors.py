"""The project's error type: a mistake a person can act on, as opposed to a bug.

The CLI prints a `VehicleRecsError` as one line and exits with code 2 (a bad option, a missing
folder, raw data that breaks the contract, a failed dbt test, a busy project, ...): the message
says what to fix, a traceback would only hide it. Every other exception is a bug and keeps its
traceback, so a ValueError deep in pandas or an OSError from a typo is never mistaken for bad
input. Each module's own error (RawDataError, DbtError, ExportError, ...) subclasses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class VehicleRecsError(Exception):
    """An error a person can act on; its message names what to fix (shown as one line)."""


@contextmanager
def user_path(path: Path, doing: str) -> Iterator[None]:
    """Turn an OSError on a path the user chose (an output folder not writable, a disk full, a
    file not found) into a VehicleRecsError naming the path: `doing` is e.g. "write".

    Used at the boundary where the path is known, around the whole step, so the lower-level
    writers stay plain and their callers (tests, other steps) still see the OSError.
    """
    try:
        yield
    except OSError as error:
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename not in (None, str(path)) else ""
        raise VehicleRecsError(f"cannot {doing} {path}: {reason}{where}") from error
