"""Vectorized helpers: ids, money, timestamps, weighted sampling, range expansion, atomic writes."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vehicle_recs.contract import NUMERIC, TIMESTAMP


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return int(moment.timestamp()) * 1_000_000


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`prefix` + zero-padded numbers, built in Arrow (no Python loop)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def id_width(count: int, minimum: int) -> int:
    return max(minimum, len(str(max(count, 1))))


def strings(values: tuple[str, ...] | list[str] | np.ndarray, index: np.ndarray) -> pa.Array:
    """values[index] as an Arrow string array."""
    return pa.array(np.asarray(values, dtype=object)).take(pa.array(index))


def with_nulls(array: pa.Array, null_mask: np.ndarray) -> pa.Array:
    """The array with nulls where `null_mask` is true."""
    return pc.if_else(pa.array(null_mask), pa.scalar(None, array.type), array)


def money(cents: np.ndarray) -> pa.Array:
    """decimal128(12,2) from integer cents, exactly (two's complement 128-bit words)."""
    low = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((len(low), 2), dtype=np.int64)
    words[:, 0] = low
    words[:, 1] = low >> 63
    return pa.Array.from_buffers(NUMERIC, len(low), [None, pa.py_buffer(words)])


def timestamps(us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=TIMESTAMP)


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with replacement, proportional to `weights`."""
    cum = np.cumsum(weights, dtype=np.float64)
    picks = np.searchsorted(cum, rng.random(size) * cum[-1], side="right")
    return np.minimum(picks, len(weights) - 1)


def pick_in_ranges(
    rng: np.random.Generator, cum0: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """One weighted index per row within [start, end) of a sorted table.

    `cum0` is the running sum of the table's weights with a leading zero. Rows with an empty
    range get -1.
    """
    lo = cum0[start]
    hi = cum0[end]
    target = lo + rng.random(len(start)) * (hi - lo)
    picks = np.searchsorted(cum0, target, side="right") - 1
    picks = np.clip(picks, start, np.maximum(end - 1, start))
    return np.where(hi > lo, picks, -1)


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [start, start+length): (owner row of each element, element value)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    first = np.cumsum(lengths) - lengths
    values = np.asarray(starts, dtype=np.int64)[owner] + (np.arange(len(owner)) - first[owner])
    return owner, values


def offsets_of(sorted_keys: np.ndarray, n_keys: int) -> np.ndarray:
    """CSR offsets (length n_keys + 1) of a sorted key column."""
    return np.searchsorted(sorted_keys, np.arange(n_keys + 1), side="left")


def splitmix(values: np.ndarray) -> np.ndarray:
    """A stateless 64-bit hash (uniform in [0, 1)) of integer keys: stable structure, not noise."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def write_table(table: pa.Table, schema: pa.Schema, path: Path) -> int:
    """Cast to the contract schema and write atomically (temp file in the folder + rename)."""
    table = table.select(schema.names).cast(schema)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, row_group_size=1 << 20)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return table.num_rows
