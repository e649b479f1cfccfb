"""reports.user_statements: every user's month-to-date statement, ``user_statements/<YYYY-MM>.csv|json``."""

import dagster as dg

from assets.reports.publish import file_metadata
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.reports.statements import NAME, write_statements
from resources.reports import ReportSettings
from resources.warehouse import Warehouse

RECONCILE = CheckSpec(
    "statements_reconcile_to_bill",
    "The statements' total cost (read back from the CSV, _shared included) equals the month's bill to date "
    "to the cent (price-book estimates standing in for days the export does not cover yet).",
)


def last_day_per_month(days):
    """A month's file reflects its last day: a range run writes each month once, as of its last day."""
    last = {}
    for day in days:
        last[(day.year, day.month)] = day
    return list(last.values())


@daily_asset(
    NAME,
    "reports",
    checks=(RECONCILE,),
    deps=(
        "user_daily_storage",
        "user_daily_requests",
        "user_daily_cost",
        "user_quota_use",
        "users",
        "cost_line_items",
        "action_requests",
        "storage_recommendations",
        "storage_leaks",
    ),
    kinds=("duckdb", "csv", "json"),
)
def user_statements(
    context: dg.AssetExecutionContext, warehouse: Warehouse, reports: ReportSettings
) -> dg.MaterializeResult:
    """One row per user (and ``_shared``) for the month to date: bytes stored (average and at the end),
    objects, bytes added, requests by billing class, cost by category (exact decimals), quota use, the
    response actions about them (how many requested, every decision), and as of the day the user's best
    recommended storage-class move (class, saving a month) and leaks (bytes, cost a month) from the
    savings layer."""
    results = []
    with warehouse.connect() as con:
        for day in last_day_per_month(window_days(context)):
            s = write_statements(con, day, reports.reports_dir)
            metadata = {
                "users": dg.MetadataValue.int(s.users),
                "total_usd": dg.MetadataValue.float(float(s.total_usd)),
                "estimated_days": dg.MetadataValue.int(s.estimated_days),
                **file_metadata(s.csv),
                "json_path": dg.MetadataValue.path(str(s.json)),
            }
            check = Check(
                s.reconciles,
                {"statements_usd": str(s.total_usd), "billed_usd": str(s.billed_usd)},
                None if s.reconciles else f"statements add up to ${s.total_usd}, the bill to ${s.billed_usd}",
            )
            results.append(DayResult(day, metadata, {RECONCILE.name: check}))
    return window_result(results)
