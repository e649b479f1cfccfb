"""Charts drawn on kept figures are the bytes a new figure per chart gave (``tests/reports/legacy/charts``).

A kept figure carries whatever the previous chart left: a legend, a zero line, "no data" notes, bar
containers, limits, its last layout. The sequence below follows each such chart with one that has none of
it, in every kind and y format, and compares every PNG byte for byte with the frozen drawing.
"""

import io

from PIL import Image

from bucketlens.reports import charts
from tests.reports.legacy import charts as legacy

DAYS = [f"11-{d:02d}" for d in range(1, 31)]
WEEK = ["Mon 11-23", "Tue 11-24", "Wed 11-25", "Thu 11-26", "Fri 11-27", "Sat 11-28", "Sun 11-29"]
MONTHS = ["Jul 2026", "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026", "Dec 2026"]
CATEGORIES = ("storage", "requests", "transfer", "retrieval", "adjustment", "other")


def _stacks(scale: float, credit: float) -> dict[str, list[float]]:
    return {
        c: [scale * (i + 1) * (k + 1) if c != "adjustment" else credit for i in range(7)]
        for k, c in enumerate(CATEGORIES)
    }


SEQUENCE = [
    ("line_chart", ("Total storage, last 30 days", DAYS, {"stored bytes": [2.0e12 + i * 3e10 for i in range(30)]}, "bytes")),
    ("line_chart", ("two series", DAYS, {"a": [float(i) for i in range(30)], "b": [None] * 3 + [9.5e3] * 27}, "count")),
    ("line_chart", ("Total storage, last 30 days", DAYS, {"stored bytes": [None] * 30}, "bytes")),  # no data at all
    ("line_chart", ("gaps", DAYS, {"stored bytes": [None if i % 7 == 0 else 5e9 * i for i in range(30)]}, "bytes")),
    ("line_chart", ("error rate", DAYS[:7], {"rate": [0.01, 0.02, None, 0.05, 0.04, 0.03, 0.2]}, "percent")),
    ("bars", ("S3 cost per month (current month to date)", MONTHS, [None, None, 812.5, 1904.25, 2210.0, 301.7], "usd")),
    ("bars", ("S3 cost per day, last 30 days", DAYS, [None] * 4 + [60.0 + i for i in range(25)] + [-3.5], "usd")),
    ("bars", ("S3 cost per day, last 30 days", DAYS, [None] * 30, "usd")),
    ("bars", ("S3 cost per month (current month to date)", MONTHS, [1.0, 2.0, 3.0, 4.0, 5.0, 0.25], "usd")),
    ("stacked_bars", ("S3 cost per day by category — ISO week 2026-W48", WEEK, _stacks(3.0, -4.0), "usd")),
    ("stacked_bars", ("S3 cost per day by category — 7 days", WEEK, _stacks(40.0, 0.0), "usd")),
    ("stacked_bars", ("S3 cost per day by category — nothing", WEEK, _stacks(0.0, 0.0), "usd")),
    ("line_chart", ("Total storage, last 30 days", DAYS, {"stored bytes": [7.0e11] * 30}, "bytes")),
]  # fmt: skip


def test_every_chart_on_a_kept_figure_is_the_new_figure_png_byte_for_byte():
    drawn = [getattr(charts, kind)(*args) for kind, args in SEQUENCE]
    expected = [getattr(legacy, kind)(*args) for kind, args in SEQUENCE]
    different = [SEQUENCE[i][1][0] for i, (a, b) in enumerate(zip(drawn, expected, strict=True)) if a != b]
    assert different == []
    assert len(set(drawn)) == len(SEQUENCE)  # thirteen different charts, not one drawn thirteen times
    assert {Image.open(io.BytesIO(png)).size for png in drawn} == {(1200, 320)}
