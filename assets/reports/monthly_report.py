"""reports.monthly_report: the calendar month containing the partition's day, to date."""

import dagster as dg

from assets.reports.publish import REPORT_WRITTEN, publish, ui_links
from assets.window import daily_asset, window_days, window_result
from bucketlens.reports.monthly import NAME, build_monthly_reports
from resources.reports import ReportSettings
from resources.rules import RulesFile
from resources.warehouse import Warehouse


@daily_asset(
    NAME,
    "reports",
    checks=(REPORT_WRITTEN,),
    deps=(
        "user_daily_cost",
        "plan_daily_margin",
        "user_quota_use",
        "abuse_flags",
        "users",
        "storage_recommendations",
        "storage_leaks",
        "service_daily_kpis",
    ),
    kinds=("duckdb", "html"),
)
def monthly_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse, reports: ReportSettings, rules: RulesFile
) -> dg.MaterializeResult:
    """Month-to-date cost, daily average, cost per user and by category; a 6-month trend; the change
    against the same days of last month, flagged above ``service.month_over_month_cost.ratio`` of the
    rules file; plan margins; users above 80 % and 100 % of quota; abuse flags by pattern; once the savings
    layer has run for the day, its savings section (top storage-class moves, leaks, KPIs against targets)."""
    ratio = rules.load().service.month_over_month_cost.ratio
    links = ui_links(reports, NAME)
    with warehouse.connect() as con:
        days = window_days(context)
        pages = build_monthly_reports(con, days, ratio, links)
        results = [publish(page, reports, links(page.day))[0] for page in pages]
    return window_result(results)
