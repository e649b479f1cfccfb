"""The alerts a day's report lists: the alert engine's events when they exist, else the detections.

``alerts.alert_events`` (the alert engine's state) is the source of truth for what on-call was told.
A warehouse built before that layer exists has only the anomaly layer's detections; the report then
lists ``anomaly.service_anomalies`` and ``anomaly.abuse_flags`` of the day in the same shape, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from bucketlens.reports.warehouse import has_columns, rows

ALERT_EVENTS = "alerts.alert_events"
EVENT_COLUMNS = ("rule", "severity", "subject", "state", "value", "threshold", "usage_date", "reason")
SEVERITY_ORDER = "CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END"

EVENTS_SQL = f"""
SELECT rule, severity, subject, state, value, threshold, reason
FROM alerts.alert_events WHERE usage_date = $day
ORDER BY {SEVERITY_ORDER}, rule, subject
"""
DETECTIONS_SQL = f"""
SELECT * FROM (
    SELECT metric AS rule, severity, 'bucket ' || bucket AS subject, 'detected' AS state, value, threshold,
           reason
    FROM anomaly.service_anomalies WHERE usage_date = $day
    UNION ALL
    SELECT pattern, severity, 'user ' || user_id, 'detected', value, threshold,
           pattern || ': ' || CASE WHEN threshold >= 1048576  -- a byte threshold (sizes are >= 1 MiB)
               THEN format_bytes(value::BIGINT) || ' (threshold ' || format_bytes(threshold::BIGINT) || ')'
               ELSE round(value, 2) || ' (threshold ' || round(threshold, 2) || ')' END
    FROM anomaly.abuse_flags WHERE usage_date = $day
)
ORDER BY {SEVERITY_ORDER}, rule, subject
"""
ABUSE_BY_PATTERN_SQL = """
SELECT pattern, any_value(severity) AS severity, count(*) AS flags, count(DISTINCT user_id) AS users
FROM anomaly.abuse_flags WHERE usage_date BETWEEN $start AND $day
GROUP BY pattern ORDER BY flags DESC, pattern
"""


@dataclass(frozen=True)
class DayAlerts:
    source: str  # the table the rows come from, shown on the page
    rows: list[dict]

    def count(self, severity: str) -> int:
        return sum(1 for r in self.rows if r["severity"] == severity)


def todays_alerts(con: duckdb.DuckDBPyConnection, day: date) -> DayAlerts:
    if has_columns(con, ALERT_EVENTS, *EVENT_COLUMNS):
        return DayAlerts(ALERT_EVENTS, rows(con, EVENTS_SQL, {"day": day}))
    if not (
        has_columns(con, "anomaly.service_anomalies", "metric")
        and has_columns(con, "anomaly.abuse_flags", "pattern")
    ):
        return DayAlerts("none (no alert or anomaly tables yet)", [])
    return DayAlerts(
        "anomaly.service_anomalies + anomaly.abuse_flags", rows(con, DETECTIONS_SQL, {"day": day})
    )


def abuse_by_pattern(con: duckdb.DuckDBPyConnection, start: date, day: date) -> list[dict]:
    """Flags per pattern between ``start`` and ``day`` (both included)."""
    if not has_columns(con, "anomaly.abuse_flags", "pattern"):
        return []
    return rows(con, ABUSE_BY_PATTERN_SQL, {"start": start, "day": day})
