"""alerts.alert_events: each alert rule's evaluation on a day, as alert state (firing, resolved, ...).

The asset writes the window's alert rows (every day from the day before's state, in one statement;
replacing exactly the window's partitions, so reruns never duplicate), then plans the notifications they
call for once for the whole window and puts them in the outbox; the delivery sensor sends them. A rerun
plans the same notification identities, which the outbox refuses, so a rerun never notifies twice.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.metadata import markdown_table
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    window_days,
    window_figures,
    window_result,
)
from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.policy import plan_notifications
from bucketlens.alerts.silences import list_silences
from bucketlens.alerts.state import TABLE, evaluate_window, read_alerts
from resources.alert_settings import AlertSettings
from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.warehouse import Warehouse, drop_tables, replace_days

STAGE = "stage_alert_events"
FIRING_PREVIEW = 20
# Per day of the window: new alerts (firing on their first day) and alert keys written twice.
FIGURES_SQL = f"""
SELECT usage_date, count(*) FILTER (WHERE state = 'firing' AND first_seen = usage_date) AS new,
       count(*) - count(DISTINCT alert_key) AS duplicates
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY ALL
"""
FIRING_SQL = f"""
SELECT severity, rule, subject, reason, first_seen FROM {TABLE}
WHERE usage_date = ? AND state = 'firing'
ORDER BY list_position(['critical', 'warning', 'info'], severity), rule, subject LIMIT ?
"""


def load_window(con, days, alerting) -> list[DayResult]:
    """Evaluate every day of the window (each from the previous day's state) in one statement, replace
    exactly those days, read the figures per day."""
    drop_tables(con, STAGE)
    counts = evaluate_window(con, days[0], days[-1], alerting, STAGE)
    rows = replace_days(con, TABLE, STAGE, "usage_date", days)
    figures = window_figures(con, FIGURES_SQL, days)
    results = []
    for day in days:
        c, duplicates = counts[day], int(figures[day].get("duplicates", 0))
        metadata: dict[str, object] = {
            "dagster/row_count": rows[day],
            "firing": dg.MetadataValue.int(c["firing"]),
            "new": dg.MetadataValue.int(int(figures[day].get("new", 0))),
            "resolved": dg.MetadataValue.int(c["resolved"]),
            "pending": dg.MetadataValue.int(c["pending"]),
            "nodata": dg.MetadataValue.int(c["nodata"]),
        }
        if day == detail_day(days):
            firing = con.execute(FIRING_SQL, [day, FIRING_PREVIEW]).fetchall()
            if firing:
                metadata["firing_alerts"] = markdown_table(
                    ["severity", "rule", "subject", "reason", "since"], firing
                )
        check = Check(
            passed=duplicates == 0,
            metadata={"duplicate_keys": duplicates},
            description=None if duplicates == 0 else "an alert key appears twice on one day",
        )
        results.append(DayResult(day, metadata, {"one_row_per_alert": check}))
    return results


@daily_asset(
    "alert_events",
    "alerts",
    checks=(CheckSpec("one_row_per_alert", "Each alert (rule + labels) has one row per day."),),
    deps=(
        "user_anomaly_scores",
        "abuse_flags",
        "service_anomalies",
        "user_quota_use",
        "service_daily_metrics",
        "users",
        "storage_leaks",
        "service_daily_kpis",
        "service_daily_cdn",
        "user_daily_cdn",
    ),
)
def alert_events(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    rules: RulesFile,
    outbox: AlertOutbox,
    alert_settings: AlertSettings,
) -> dg.MaterializeResult:
    """One row per alert (rule + labels) and day it is pending, firing, resolved or without data, with
    value, threshold, reason, evidence and the SQL listing its source rows; then its notifications."""
    alerting = rules.alerting()
    days = window_days(context)
    with warehouse.connect() as con:
        results = load_window(con, days, alerting)
        alerts = read_alerts(con, days)
    now = datetime.now(UTC)
    log = NotifyLog(outbox.url)
    try:
        silences = list_silences(outbox.url, now=now)
        # One planner at a time, from the snapshot to the commit (the delivery tick plans too); the
        # notifications are enqueued before the log records them, in the same transaction.
        with log.planning() as turn:
            plan = turn.run(
                lambda snap: plan_notifications(
                    alerts, now, alerting, snap, silences, alert_settings.link_base()
                ),
                now,
            )
        enqueued = turn.enqueued
    finally:
        log.dispose()
    counts = plan.counts
    # Notifications are planned once for the whole window: the figures go on its last day.
    results[-1].metadata.update(
        {
            "notifications_enqueued": dg.MetadataValue.int(enqueued),
            "notifications_planned": dg.MetadataValue.int(len(plan.notifications)),
            "held_back": dg.MetadataValue.int(counts.get("held_back", 0) + counts.get("suppressed", 0)),
            "silenced": dg.MetadataValue.int(counts.get("silenced", 0)),
            "inhibited": dg.MetadataValue.int(counts.get("inhibited", 0)),
            "digested": dg.MetadataValue.int(counts.get("digested", 0)),
        }
    )
    return window_result(results)
