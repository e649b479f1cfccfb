"""Per-user usage, in SQL over the warehouse contract's raw tables: the queries behind the ``usage`` layer.

Why here and not in the assets: the same query serves the DuckDB warehouse and the scale-out engines
(``bucketlens.engines``), so it must live where both can read it. Each query covers the days ``$start`` to
``$end`` (a backfill is one statement, not a loop of days) and returns rows with the contract table's
columns; values are bound, never formatted in.
"""

from __future__ import annotations

from importlib import resources

from bucketlens.costing.operations import billable_sql, cdn_origin_sql, request_tier_sql


def _sql(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


USER_DAILY_STORAGE_SQL = _sql("user_daily_storage")
# $owner_accounts: the bucket owner's AWS accounts (a 403 from another account is not billed)
USER_DAILY_REQUESTS_SQL = _sql("user_daily_requests").format(
    tier=request_tier_sql("r.operation"),
    billable=billable_sql("r.http_status", "r.requester", "$owner_accounts::VARCHAR[]"),
    cdn_origin=cdn_origin_sql("r.user_agent", "r.requester"),
)
# CloudFront (issue 20): per user × distribution × edge region, and per distribution (logs + CloudWatch)
USER_DAILY_CDN_SQL = _sql("user_daily_cdn")
SERVICE_DAILY_CDN_SQL = _sql("service_daily_cdn")
# $t_*: the rules file's KPI targets (kpis.targets)
SERVICE_DAILY_KPIS_SQL = _sql("service_daily_kpis")
# The KPIs SERVICE_DAILY_KPIS_SQL computes (its ``kpi`` values), in the order they are listed: named once
# here, since the asset reads them back by name and the monthly report lists them in this order.
SERVICE_KPIS = (
    "upload_success_rate",
    "upload_failure_rate",
    "error_rate",
    "not_found_rate",
    "cost_per_upload_usd",
    "cost_per_gb_month_usd",
    "dedup_rate",
    "time_to_first_byte_p50_ms",
    "time_to_first_byte_p95_ms",
    "daily_active_uploaders",
)
