"""Report charts as PNG bytes, drawn with matplotlib's Agg canvas and its bundled DejaVu fonts.

Figures are built with ``matplotlib.figure.Figure`` rather than pyplot, so no global backend or figure
registry is touched. Output is deterministic: fixed size and DPI, fixed fonts, no timestamp or software
metadata in the file — the same data gives the same bytes, so a rerun of a partition produces an
identical report.

A range run draws a chart of each kind for every day, so each kind keeps one figure and redraws it
(``_Canvas``): building a Figure, its Axes and their ticks cost as much as drawing them, and a kept Agg
canvas keeps its renderer, whose text-size cache then serves every day's tick labels. The layout is
computed once per chart, not in a second full draw (``_png``). Each chart is emptied back to what a new
figure would be, so the bytes are those a new figure gives — ``tests/reports/test_charts.py`` compares
them with the figure-per-chart drawing this replaced.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import Bbox

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


@dataclass
class _Canvas:
    """One chart kind's figure, kept between charts."""

    figure: Figure
    axes: Axes
    layout: ConstrainedLayoutEngine  # run once per chart by _png, not by a draw
    start: Bbox  # where a new subplot sits: constrained layout starts from there, so every chart does
    y_format: Callable[[float], str]


_CANVASES: dict[str, _Canvas] = {}
# rcParams are process-wide and a canvas is reused: one chart is drawn at a time (assets may run in
# threads of one process).
_DRAWING = threading.Lock()


def _canvas(kind: str) -> _Canvas:
    if kind not in _CANVASES:
        fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        canvas = _Canvas(
            fig, ax, ConstrainedLayoutEngine(), ax.get_position(original=True).frozen(), fmt.size
        )
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: canvas.y_format(v)))
        _CANVASES[kind] = canvas
    return _CANVASES[kind]


def _empty(canvas: _Canvas) -> None:
    """Back to what ``Figure.add_subplot`` gives: no artists, no legend, data limits forgotten, view limits
    (0, 1) and autoscaled, the subplot's starting position (what ``ax.clear()`` does, at a fraction of
    its cost: the ticks it would rebuild are kept)."""
    ax = canvas.axes
    for container in list(ax.containers):
        container.remove()
    for artist in (*ax.patches, *ax.lines, *ax.texts, *ax.collections, *ax.images):
        artist.remove()
    if ax.legend_ is not None:
        ax.legend_.remove()
    ax.relim()
    ax.set_xlim(0.0, 1.0, auto=True)
    ax.set_ylim(0.0, 1.0, auto=True)
    ax.set_position(canvas.start)
    ax.set_in_layout(True)  # set_position takes an Axes out of the layout


@contextmanager
def _chart(kind: str, title: str, y_format: str) -> Iterator[tuple[_Canvas, Axes]]:
    with _DRAWING, matplotlib.rc_context(STYLE):
        canvas = _canvas(kind)
        _empty(canvas)
        # y=1 is where the automatic placement puts a title that no top tick collides with (ours are at
        # the bottom); given, it spares measuring the y axis once more per title.
        canvas.axes.set_title(title, loc="left", fontsize=12, fontweight="bold", y=1.0)
        canvas.y_format = Y_FORMATS[y_format]
        yield canvas, canvas.axes


def _png(canvas: _Canvas) -> bytes:
    """Lay the chart out once (what ``layout="constrained"`` does in an extra, undrawn pass over every
    artist before saving) and save it."""
    canvas.layout.execute(canvas.figure)
    buf = io.BytesIO()
    canvas.figure.savefig(buf, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def line_chart(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], y_format: str = "count"
) -> bytes:
    """One line per series over the labels (days); a missing value leaves a gap, it is not drawn as 0."""
    with _chart("line", title, y_format) as (canvas, ax):
        x = range(len(labels))
        for i, (name, values) in enumerate(series.items()):
            ys = [math.nan if _missing(v) else float(v) for v in values]
            ax.plot(x, ys, marker="o", markersize=3, linewidth=2, color=PALETTE[i % len(PALETTE)], label=name)
        _label_x(ax, labels)
        if len(series) > 1:
            ax.legend(loc="upper left", frameon=False)
        return _png(canvas)


def stacked_bars(
    title: str, labels: Sequence[str], stacks: dict[str, Sequence[float]], y_format: str = "usd"
) -> bytes:
    """Bars stacked per label; negative parts (credits, refunds) stack downwards from zero."""
    with _chart("stacked_bars", title, y_format) as (canvas, ax):
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
        return _png(canvas)


def bars(title: str, labels: Sequence[str], values: Sequence[float | None], y_format: str = "usd") -> bytes:
    """One bar per label; a label without data shows "no data" instead of a bar of height zero."""
    with _chart("bars", title, y_format) as (canvas, ax):
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
        return _png(canvas)


@dataclass(frozen=True)
class Chart:
    """A chart to draw later, maybe in another process (``chart_helpers``): the drawing function's name
    and its arguments, plain values that pickle."""

    kind: str  # "line_chart", "stacked_bars" or "bars"
    args: tuple

    def png(self) -> bytes:
        return KINDS[self.kind](*self.args)


def _label_x(ax, labels: Sequence[str]) -> None:
    step = max(1, math.ceil(len(labels) / 15))
    ticks = list(range(0, len(labels), step))
    ax.set_xticks(ticks, [labels[i] for i in ticks])
    ax.set_xlim(-0.6, max(len(labels) - 0.4, 0.6))


KINDS: dict[str, Callable[..., bytes]] = {
    "line_chart": line_chart,
    "stacked_bars": stacked_bars,
    "bars": bars,
}
