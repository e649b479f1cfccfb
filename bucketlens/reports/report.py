"""A rendered report (page, key figures, markdown preview, charts) and how it lands on disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bucketlens.reports.files import day_stem, report_path, write_atomic


@dataclass(frozen=True)
class Report:
    name: str  # the asset's name, also the folder under reports_dir
    day: date  # the partition the report was made for
    html: str
    figures: dict[str, float | int]  # key figures: the asset's numeric metadata, plotted across partitions
    preview: str  # markdown shown in the Dagster UI
    charts: dict[str, bytes] = field(default_factory=dict)  # PNGs also written as files (Slack uploads)


@dataclass(frozen=True)
class WrittenReport:
    page: Path
    charts: dict[str, Path]


def write_report(report: Report, reports_dir: str | Path) -> WrittenReport:
    """``<report>/<day>.html`` plus ``<report>/<day>.<chart>.png`` per chart, each written atomically;
    a rerun of the day overwrites the same names, so files never pile up."""
    stem = day_stem(report.day)
    charts = {
        name: write_atomic(report_path(reports_dir, report.name, f"{stem}.{name}", ".png"), png)
        for name, png in report.charts.items()
    }
    page = write_atomic(report_path(reports_dir, report.name, stem, ".html"), report.html)
    return WrittenReport(page, charts)
