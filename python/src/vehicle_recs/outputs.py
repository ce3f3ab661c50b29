"""Output files, written atomically; the payloads serialized (JSON Lines, flat Parquet, CSV).

Every writer goes through `atomic_path`: a temp file in the destination folder, fsync, then
`os.replace`; a failure mid-way leaves the previous file untouched and no temp file behind (the
assignment log and the report use it too). The JSON Lines are serialized in one vectorized
DuckDB pass (`jsonl_batches`) and written as they are; `payload_schema.check_written` proves
them on disk.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vehicle_recs.payload_schema import PayloadValidationError
from vehicle_recs.payloads import BATCH_CUSTOMERS, flat_items


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; on success it replaces `path`, on error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        with temp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_flat_items(payloads: pa.Table, path: Path) -> None:
    """`flat_items` of every payload batch into one Parquet file, atomically."""
    import pyarrow.parquet as pq

    with atomic_path(path) as temp:
        writer: pq.ParquetWriter | None = None
        try:
            for batch in payloads.to_batches(max_chunksize=BATCH_CUSTOMERS):
                flat = flat_items(pa.Table.from_batches([batch]))
                if writer is None:
                    writer = pq.ParquetWriter(temp, flat.schema)
                writer.write_table(flat)
            if writer is None:
                pq.write_table(flat_items(payloads), temp)
        finally:
            if writer is not None:
                writer.close()


# Lines serialized per batch: the JSON text of one batch is in memory at a time.
BATCH_LINES = 100_000


def jsonl_batches(payloads: pa.Table) -> Iterator[pa.Array]:
    """One JSON object + newline per row, in row order (columns in order, nulls as null), a
    batch of lines at a time.

    DuckDB's `to_json` (vectorized; insertion order is kept), byte for byte what
    `COPY ... (format json)` writes, streamed so the whole file's text is never held at once.
    """
    import duckdb

    with duckdb.connect() as con:
        con.register("payloads", payloads)
        reader = con.sql("select to_json(payloads) || chr(10) as line from payloads"
                         ).to_arrow_reader(BATCH_LINES)
        for batch in reader:
            yield batch.column(0)


def _write_lines(lines: pa.Array, handle: Any) -> None:
    """Write the string values back to back: the array's data buffer, no Python per line."""
    if len(lines) == 0:
        return
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    handle.write(memoryview(lines.buffers()[2])[start:end])


def write_jsonl(payloads: pa.Table, path: Path) -> np.ndarray:
    """Write one JSON object per row (columns in order, nulls as null), atomically; returns the
    byte length of every line written (for `check_written`)."""
    lengths = []
    with atomic_path(path) as temp, temp.open("wb") as handle:
        for lines in jsonl_batches(payloads):
            if lines.null_count:
                raise PayloadValidationError("JSON serialization gave a null line")
            _write_lines(lines, handle)
            lengths.append(pc.binary_length(lines).to_numpy().astype(np.int64))
        written = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        if len(written) != payloads.num_rows:
            raise PayloadValidationError("JSON serialization lost rows")
    return written


def write_csv(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as temp:
        pacsv.write_csv(table, temp)


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
