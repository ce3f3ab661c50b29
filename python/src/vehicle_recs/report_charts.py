"""Hand-built inline SVG charts for the report: no JavaScript, no network, no plotting library.

Each function returns one `<svg id=...>` element as `Markup`, ready to drop into an autoescaped
Jinja template. Every text that comes from data is escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
WIDTH = 760
FONT = "font-family='system-ui, sans-serif' font-size='12'"

Formatter = Callable[[float], str]


def percent(digits: int = 1) -> Formatter:
    return lambda value: f"{value * 100:.{digits}f}%"


def _svg(chart_id: str, title: str, height: int, body: list[str]) -> Markup:
    head = (f"<svg id='{escape(chart_id)}' class='chart' xmlns='http://www.w3.org/2000/svg' "
            f"viewBox='0 0 {WIDTH} {height}' width='{WIDTH}' height='{height}' role='img' "
            f"aria-label='{escape(title)}' {FONT}>")
    return Markup("\n".join([head, f"<title>{escape(title)}</title>", *body, "</svg>"]))


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _tick_count(scale_max: float) -> int:
    """Intervals that put ticks on round values: 4 for 1, 2 (x10^k); 5 for 2.5, 5, 10."""
    leading = scale_max / 10 ** math.floor(math.log10(scale_max)) if scale_max > 0 else 1.0
    return 4 if round(leading, 6) in (1.0, 2.0) else 5


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    parts, offset = [], 0.0
    for index, name in enumerate(names):
        color = PALETTE[index % len(PALETTE)]
        parts.append(f"<rect x='{x + offset:.1f}' y='{y - 9}' width='10' height='10' "
                     f"fill='{color}'/>")
        parts.append(f"<text x='{x + offset + 14:.1f}' y='{y}'>{escape(name)}</text>")
        offset += 24 + 7 * len(name)
    return parts


def interval_chart(chart_id: str, title: str,
                   rows: Sequence[tuple[str, float, float | None, float | None]],
                   fmt: Formatter | None = None, x_title: str = "") -> Markup:
    """Horizontal bars with interval whiskers: (label, value, lower, upper) per row."""
    fmt = fmt or percent(2)
    left, right, top, row_height = 170, 90, 34, 34
    height = top + row_height * max(len(rows), 1) + (48 if x_title else 30)
    scale_max = _nice_max(max([r[3] if r[3] is not None else r[1] for r in rows] or [1.0]))
    plot = WIDTH - left - right

    def px(value: float) -> float:
        return left + plot * value / scale_max

    body = [f"<text x='10' y='20' font-weight='bold'>{escape(title)}</text>"]
    ticks = _tick_count(scale_max)
    for tick in range(ticks + 1):
        value = scale_max * tick / ticks
        body.append(f"<line x1='{px(value):.1f}' y1='{top - 4}' x2='{px(value):.1f}' "
                    f"y2='{height - (44 if x_title else 26)}' stroke='#ddd'/>")
        body.append(f"<text x='{px(value):.1f}' y='{height - (28 if x_title else 10)}' "
                    f"text-anchor='middle' fill='#555'>{escape(fmt(value))}</text>")
    if x_title:
        body.append(f"<text class='axis-title' x='{left + plot / 2:.1f}' y='{height - 8}' "
                    f"text-anchor='middle' fill='#333'>{escape(x_title)}</text>")
    for index, (label, value, lower, upper) in enumerate(rows):
        y = top + row_height * index
        color = PALETTE[index % len(PALETTE)]
        text = fmt(value) + (f" [{fmt(lower)}, {fmt(upper)}]" if lower is not None
                             and upper is not None else "")
        body.append(f"<g class='row'><title>{escape(label)}: {escape(text)}</title>")
        body.append(f"<text x='{left - 8}' y='{y + 17}' text-anchor='end'>{escape(label)}</text>")
        body.append(f"<rect class='bar' x='{left}' y='{y + 5}' width='{px(value) - left:.1f}' "
                    f"height='18' fill='{color}' opacity='0.75'/>")
        if lower is not None and upper is not None:
            body.append(f"<line class='interval' x1='{px(lower):.1f}' y1='{y + 14}' "
                        f"x2='{px(upper):.1f}' y2='{y + 14}' stroke='#222' stroke-width='2'/>")
            for end in (lower, upper):
                body.append(f"<line x1='{px(end):.1f}' y1='{y + 8}' x2='{px(end):.1f}' "
                            f"y2='{y + 20}' stroke='#222' stroke-width='2'/>")
        body.append(f"<text x='{WIDTH - right + 4}' y='{y + 17}' fill='#333' "
                    f"font-size='11'>{escape(fmt(value))}</text></g>")
    return _svg(chart_id, title, height, body)


Band = tuple[float, float] | None


def line_chart(chart_id: str, title: str, x_labels: Sequence[str],
               series: Mapping[str, Sequence[float | None]],
               fmt: Formatter | None = None, x_title: str = "", y_title: str = "",
               bands: Mapping[str, Sequence[Band]] | None = None) -> Markup:
    """One polyline per series over shared x labels; gaps where a value is missing. `bands`
    (per series, a (lower, upper) interval per x or None) are drawn as translucent areas
    behind the lines."""
    fmt = fmt or percent(1)
    left, right, top, bottom = 70, 20, 50, 56
    height = 320
    bands = bands or {}
    values = [v for points in series.values() for v in points if v is not None]
    values += [band[1] for ranges in bands.values() for band in ranges if band is not None]
    scale_max = _nice_max(max([v for v in values if math.isfinite(v)] or [1.0]))
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    count = max(len(x_labels) - 1, 1)

    def xy(index: int, value: float) -> str:
        return (f"{left + plot_w * index / count:.1f},"
                f"{top + plot_h * (1 - value / scale_max):.1f}")

    body = [f"<text x='10' y='20' font-weight='bold'>{escape(title)}</text>"]
    body += _legend(list(series), left, 38)
    body += _axes(left, top, plot_w, plot_h, scale_max, fmt, x_labels, x_title, y_title)
    for index, name in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        for run in _runs(bands.get(name, [])):
            outline = [xy(i, high) for i, (_, high) in run]
            outline += [xy(i, low) for i, (low, _) in reversed(run)]
            body.append(f"<polygon class='band' data-series='{escape(name)}' fill='{color}' "
                        f"opacity='0.18' points='{' '.join(outline)}'/>")
    for index, (name, points) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for position, value in enumerate(points):
            if value is None or not math.isfinite(value):
                if segment:
                    segments.append(segment)
                segment = []
            else:
                segment.append(xy(position, value))
        if segment:
            segments.append(segment)
        for part in segments:
            body.append(f"<polyline class='series' data-series='{escape(name)}' fill='none' "
                        f"stroke='{color}' stroke-width='2' points='{' '.join(part)}'/>")
    return _svg(chart_id, title, height, body)


def _runs(bands: Sequence[Band]) -> list[list[tuple[int, tuple[float, float]]]]:
    """Consecutive x positions with a finite band, as separate runs (a gap splits them)."""
    runs: list[list[tuple[int, tuple[float, float]]]] = [[]]
    for position, band in enumerate(bands):
        if band is None or not all(math.isfinite(v) for v in band):
            runs.append([])
        else:
            runs[-1].append((position, band))
    return [run for run in runs if run]


def stacked_share_chart(chart_id: str, title: str, x_labels: Sequence[str],
                        series: Mapping[str, Sequence[float]], x_title: str = "",
                        y_title: str = "") -> Markup:
    """Stacked areas of shares (each x sums to about 1), bottom series first."""
    left, right, top, bottom = 70, 20, 50, 56
    height = 320
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    count = max(len(x_labels) - 1, 1)
    body = [f"<text x='10' y='20' font-weight='bold'>{escape(title)}</text>"]
    body += _legend(list(series), left, 38)
    body += _axes(left, top, plot_w, plot_h, 1.0, percent(0), x_labels, x_title, y_title)
    base = [0.0] * len(x_labels)
    for index, (name, shares) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        upper = [b + (s or 0.0) for b, s in zip(base, shares, strict=True)]

        def point(position: int, level: float) -> str:
            return (f"{left + plot_w * position / count:.1f},"
                    f"{top + plot_h * (1 - min(level, 1.0)):.1f}")

        outline = [point(i, v) for i, v in enumerate(upper)]
        outline += [point(i, v) for i, v in reversed(list(enumerate(base)))]
        body.append(f"<polygon class='area' data-series='{escape(name)}' fill='{color}' "
                    f"opacity='0.85' points='{' '.join(outline)}'/>")
        base = upper
    return _svg(chart_id, title, height, body)


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, float]],
              fmt: Formatter | None = None, x_title: str = "") -> Markup:
    """Horizontal bars: (label, value) per row."""
    return interval_chart(chart_id, title, [(label, value, None, None) for label, value in rows],
                          fmt, x_title)


def _axes(left: float, top: float, plot_w: float, plot_h: float, scale_max: float,
          fmt: Formatter, x_labels: Sequence[str], x_title: str = "",
          y_title: str = "") -> list[str]:
    parts = []
    if x_title:
        parts.append(f"<text class='axis-title' x='{left + plot_w / 2:.1f}' "
                     f"y='{top + plot_h + 40:.1f}' text-anchor='middle' "
                     f"fill='#333'>{escape(x_title)}</text>")
    if y_title:
        middle = top + plot_h / 2
        parts.append(f"<text class='axis-title' x='14' y='{middle:.1f}' text-anchor='middle' "
                     f"transform='rotate(-90 14 {middle:.1f})' fill='#333'>"
                     f"{escape(y_title)}</text>")
    ticks = _tick_count(scale_max)
    for tick in range(ticks + 1):
        value = scale_max * tick / ticks
        y = top + plot_h * (1 - tick / ticks)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{left + plot_w}' y2='{y:.1f}' "
                     f"stroke='#ddd'/>")
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' "
                     f"fill='#555'>{escape(fmt(value))}</text>")
    count = max(len(x_labels) - 1, 1)
    every = max(1, math.ceil(len(x_labels) / 8))
    last = len(x_labels) - 1
    for index, label in enumerate(x_labels):
        # every `every`-th label and the last one, unless the last would overlap its neighbour
        if (index % every and index != last) or (index != last and last - index < every / 2):
            continue
        x = left + plot_w * index / count
        anchor = "end" if index == last and index else "middle"
        parts.append(f"<text x='{x:.1f}' y='{top + plot_h + 18}' text-anchor='{anchor}' "
                     f"fill='#555'>{escape(label)}</text>")
    return parts
