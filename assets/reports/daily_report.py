"""reports.daily_report: one self-contained HTML page per day, ``reports/daily_report/<day>.html``; a
range reads its figures for all its days at once (``bucketlens.reports.daily``)."""

import dagster as dg

from assets.reports.publish import REPORT_WRITTEN, publish, ui_links
from assets.window import daily_asset, window_days, window_result
from bucketlens.reports.daily import NAME, build_daily_reports
from resources.reports import ReportSettings
from resources.warehouse import Warehouse


@daily_asset(
    NAME,
    "reports",
    checks=(REPORT_WRITTEN,),
    deps=(
        "service_daily_metrics",
        "user_daily_storage",
        "user_daily_cost",
        "user_quota_use",
        "users",
        "abuse_flags",
        "service_anomalies",
        "alert_events",
        "action_requests",
    ),
    kinds=("duckdb", "html"),
)
def daily_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse, reports: ReportSettings
) -> dg.MaterializeResult:
    """The day at a glance: storage, objects, active users, requests, error rate and availability with
    their day-over-day change, a 30-day storage and cost chart, the top 10 users by storage, growth and
    cost, and the day's alerts, abuse flags and response actions."""
    links = ui_links(reports, NAME)
    with warehouse.connect() as con:
        pages = build_daily_reports(con, window_days(context), links)
        results = [publish(page, reports, links(page.day))[0] for page in pages]
    return window_result(results)
