"""A standalone HTML preview of a sample of emails, rendered with the package's Jinja2 templates.

Only the sampled payloads become Python objects; the template runs with `StrictUndefined` (a
missing field is an error, not an empty string) and HTML autoescaping.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

TEMPLATE = "preview.html.j2"


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("vehicle_recs", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def sample_rows(payloads: pa.Table, per_arm: int) -> np.ndarray:
    """The first `per_arm` payloads of each arm, plus up to two fallback emails (deterministic)."""
    chosen: list[int] = []
    treatments = payloads["treatment"]
    for arm in sorted(pc.unique(treatments).to_pylist()):
        rows = np.flatnonzero(pc.equal(treatments, arm).to_numpy(zero_copy_only=False))
        chosen.extend(rows[:per_arm].tolist())
    fallback = np.flatnonzero(payloads["is_fallback"].to_numpy(zero_copy_only=False))
    chosen.extend(row for row in fallback[:2].tolist() if row not in chosen)
    return np.array(sorted(set(chosen)), dtype=np.int64)


def render_preview(payloads: pa.Table, per_arm: int = 8, **context: Any) -> str:
    """HTML for a sample of payloads; `context` fills the page header (campaign_id, ...)."""
    rows = sample_rows(payloads, per_arm)
    # row slices: a take on the chunked table would first copy every payload into one chunk
    emails = [payloads.slice(row, 1).to_pylist()[0] for row in rows]
    template = environment().get_template(TEMPLATE)
    return template.render(emails=emails, payload_count=payloads.num_rows, **context)
