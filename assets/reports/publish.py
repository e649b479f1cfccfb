"""What every report asset does with a rendered report: write it, check it, describe it in metadata."""

from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg

from assets.window import Check, CheckSpec, DayResult
from bucketlens.reports.html import external_urls
from bucketlens.reports.report import Report, write_report
from resources.reports import ReportSettings

REPORT_WRITTEN = CheckSpec(
    "report_written",
    "The page exists, is not empty and loads nothing from outside the file (only the Dagster UI link).",
)


def figures_metadata(figures: dict[str, float | int]) -> dict[str, dg.MetadataValue]:
    """Numeric key figures typed so the Dagster UI plots them across partitions."""
    return {
        k: dg.MetadataValue.int(v) if isinstance(v, int) else dg.MetadataValue.float(float(v))
        for k, v in figures.items()
    }


def file_metadata(path: Path) -> dict[str, dg.MetadataValue]:
    return {"path": dg.MetadataValue.path(str(path)), "url": dg.MetadataValue.url(path.resolve().as_uri())}


def ui_links(settings: ReportSettings, report: str) -> Callable[[date], str]:
    """Where each day's page links to: its partition of ``report`` in the Dagster UI."""
    return lambda day: settings.asset_link(report, day.isoformat())


def publish(report: Report, settings: ReportSettings, link: str) -> tuple[DayResult, dict[str, Path]]:
    """Write the report's files; the day's metadata and its ``report_written`` check (``link``: the only
    URL the page may hold)."""
    written = write_report(report, settings.reports_dir)
    page = written.page.read_text(encoding="utf-8")
    outside = external_urls(page, allowed=[link])
    metadata = {
        **figures_metadata(report.figures),
        "preview": dg.MetadataValue.md(report.preview),
        **file_metadata(written.page),
        "dagster_ui": dg.MetadataValue.url(link),
    }
    check = Check(
        passed=bool(page) and not outside,
        metadata={"bytes": len(page.encode("utf-8")), "external_urls": ", ".join(outside) or "none"},
        description=None if not outside else f"the page loads {len(outside)} URL(s) from outside the file",
    )
    return DayResult(report.day, metadata, {REPORT_WRITTEN.name: check}), written.charts
