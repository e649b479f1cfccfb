"""The alerts a day's report lists: the alert engine's events when they exist, else the detections.

``alerts.alert_events`` (the alert engine's state) is the source of truth for what on-call was told.
A warehouse built before that layer exists has only the anomaly layer's detections; the report then
lists ``anomaly.service_anomalies`` and ``anomaly.abuse_flags`` of the day in the same shape, and says so.
Both are read for a whole window of days in one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from bucketlens.reports.warehouse import has_columns, report_sql, rows_by_day, window

ALERT_EVENTS = "alerts.alert_events"
EVENT_COLUMNS = ("rule", "severity", "subject", "state", "value", "threshold", "usage_date", "reason")
SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"

EVENTS_SQL = report_sql("alert_events", severity_order=SEVERITY_ORDER)
DETECTIONS_SQL = report_sql("detections", severity_order=SEVERITY_ORDER)
# Flags counted on the report day only (daily page) or from the first of its month (monthly page).
ABUSE_ON_THE_DAY_SQL = report_sql("abuse_by_pattern", since="r.day", severity_order=SEVERITY_ORDER)
ABUSE_MONTH_TO_DATE_SQL = report_sql(
    "abuse_by_pattern", since="date_trunc('month', r.day)", severity_order=SEVERITY_ORDER
)


@dataclass(frozen=True)
class DayAlerts:
    source: str  # the table the rows come from, shown on the page
    rows: list[dict]

    def count(self, severity: str) -> int:
        return sum(1 for r in self.rows if r["severity"] == severity)


def alerts_by_day(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[date, DayAlerts]:
    """Each day's alerts, from the first source that exists."""
    if has_columns(con, ALERT_EVENTS, *EVENT_COLUMNS):
        source, sql = ALERT_EVENTS, EVENTS_SQL
    elif has_columns(con, "anomaly.service_anomalies", "metric") and has_columns(
        con, "anomaly.abuse_flags", "pattern"
    ):
        source, sql = "anomaly.service_anomalies + anomaly.abuse_flags", DETECTIONS_SQL
    else:
        return {day: DayAlerts("none (no alert or anomaly tables yet)", []) for day in days}
    return {day: DayAlerts(source, found) for day, found in rows_by_day(con, sql, window(days), days).items()}


def abuse_by_pattern(
    con: duckdb.DuckDBPyConnection, days: Sequence[date], month_to_date: bool = False
) -> dict[date, list[dict]]:
    """Flags per pattern for each day: of the day itself, or from the first of its month to it."""
    if not has_columns(con, "anomaly.abuse_flags", "pattern"):
        return {day: [] for day in days}
    sql = ABUSE_MONTH_TO_DATE_SQL if month_to_date else ABUSE_ON_THE_DAY_SQL
    return rows_by_day(con, sql, window(days), days)
