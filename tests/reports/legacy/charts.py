"""Report charts as PNG bytes, drawn with matplotlib's Agg canvas and its bundled DejaVu fonts.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no global backend or figure
registry is touched (assets run in threads of one process). Output is deterministic: fixed size and DPI,
fixed fonts, no timestamp or software metadata in the file — the same data gives the same bytes, so a
rerun of a partition produces an identical report.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bucketlens.reports import fmt

DPI = 100
WIDTH_IN = 12.0  # 1200 px: a report's column in a 1400 px window
HEIGHT_IN = 3.2
PALETTE = ("#2f6fde", "#e8893a", "#35a26a", "#c44e52", "#8172b3", "#8c8c8c")
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "svg.hashsalt": "bucketlens",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "axes.axisbelow": True,
}
Y_FORMATS: dict[str, Callable[[float], str]] = {
    "bytes": fmt.size,
    "usd": lambda v: fmt.usd(v),
    "count": lambda v: f"{v:,.0f}",
    "percent": lambda v: fmt.percent(v, 1),
}


def _figure(title: str, y_format: str) -> tuple[Figure, object]:
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
    formatter = Y_FORMATS[y_format]
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: formatter(v)))
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def line_chart(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], y_format: str = "count"
) -> bytes:
    """One line per series over the labels (days); a missing value leaves a gap, it is not drawn as 0."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(title, y_format)
        x = range(len(labels))
        for i, (name, values) in enumerate(series.items()):
            ys = [math.nan if _missing(v) else float(v) for v in values]
            ax.plot(x, ys, marker="o", markersize=3, linewidth=2, color=PALETTE[i % len(PALETTE)], label=name)
        _label_x(ax, labels)
        if len(series) > 1:
            ax.legend(loc="upper left", frameon=False)
        return _png(fig)


def stacked_bars(
    title: str, labels: Sequence[str], stacks: dict[str, Sequence[float]], y_format: str = "usd"
) -> bytes:
    """Bars stacked per label; negative parts (credits, refunds) stack downwards from zero."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(title, y_format)
        x = list(range(len(labels)))
        up = [0.0] * len(labels)
        down = [0.0] * len(labels)
        for i, (name, values) in enumerate(stacks.items()):
            vals = [float(v or 0) for v in values]
            bottoms = [u if v >= 0 else d for v, u, d in zip(vals, up, down, strict=True)]
            ax.bar(x, vals, bottom=bottoms, width=0.7, color=PALETTE[i % len(PALETTE)], label=name)
            up = [u + max(v, 0) for u, v in zip(up, vals, strict=True)]
            down = [d + min(v, 0) for d, v in zip(down, vals, strict=True)]
        ax.set_ylim(min(down, default=0.0) * 1.15, (max(up, default=0.0) or 1.0) * 1.22)
        if any(down):
            ax.axhline(0, color="#374151", linewidth=0.8)
        _label_x(ax, labels)
        ax.legend(loc="upper left", frameon=False, ncols=len(stacks))
        return _png(fig)


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], y_format: str = "usd") -> bytes:
    """One bar per label; a label without data shows "no data" instead of a bar of height zero."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure(title, y_format)
        x = list(range(len(labels)))
        present = [(i, float(v)) for i, v in zip(x, values, strict=True) if not _missing(v)]
        ax.bar([i for i, _ in present], [v for _, v in present], width=0.6, color=PALETTE[0])
        top = max((v for _, v in present), default=1.0) or 1.0
        ax.set_ylim(min(0.0, min((v for _, v in present), default=0.0)), top * 1.15)
        for i, v in present if len(labels) <= 12 else ():
            ax.annotate(Y_FORMATS[y_format](v), (i, v), ha="center", va="bottom", fontsize=9)
        for i, v in zip(x, values, strict=True):
            if _missing(v):
                ax.annotate("no data", (i, top * 0.05), ha="center", color="#6b7280", fontsize=9)
        _label_x(ax, labels)
        return _png(fig)


def _label_x(ax, labels: Sequence[str]) -> None:
    step = max(1, math.ceil(len(labels) / 15))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks])
    ax.set_xlim(-0.6, max(len(labels) - 0.4, 0.6))
