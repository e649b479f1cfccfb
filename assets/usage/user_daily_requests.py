"""usage.user_daily_requests: what each user asks of S3, per operation and storage class, each day.

Per-user request figures can only come from the access logs (CloudWatch request metrics stop at
1,000 filters per bucket). A request's storage class decides its fee (a GET of a Deep Archive object is a
Deep Archive request), so each request is joined to the class of the current version it touched in the
day's inventory; objects created that day are not listed yet and count as STANDARD, the class S3 gives
an upload without a storage-class header.
"""

import functools

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
from bucketlens.engines.base import DuckDBEngine, Engine
from bucketlens.formats import access_log, cur
from resources.engine import QueryEngine, engine_metadata
from resources.pricing import Pricing
from resources.warehouse import Warehouse, replace_days

ASSET = dg.AssetKey("user_daily_requests")
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS usage.user_daily_requests (
    usage_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    operation VARCHAR NOT NULL,
    storage_class VARCHAR NOT NULL,
    http_status_class VARCHAR NOT NULL,
    request_tier VARCHAR,
    request_count BIGINT,
    billable_count BIGINT,
    error_count BIGINT,
    bytes_sent BIGINT,
    bytes_received BIGINT,
    restored_bytes BIGINT,
    cdn_origin_bytes BIGINT
)"""
# Warehouses created before the CDN (issue 20) get the column (NULL on their old rows: no CloudFront).
ADD_COLUMNS = "ALTER TABLE usage.user_daily_requests ADD COLUMN IF NOT EXISTS cdn_origin_bytes BIGINT"

STAGE = "stage_user_daily_requests"
# The bucket owner's accounts when BUCKETLENS_ACCOUNT_IDS does not name them: the usage accounts of the
# cost export (every account the bill covers), of the day's billing period or any before it.
EXPORT_ACCOUNTS_SQL = """
SELECT DISTINCT usage_account_id FROM raw.cost_line_items
WHERE usage_account_id IS NOT NULL AND billing_period <= strftime(?::DATE, '%Y-%m') ORDER BY 1
"""
FIGURES_SQL = """
SELECT coalesce(u.usage_date, l.usage_date) AS usage_date, u.requests, u.billable, u.errors, u.sent,
       u.received, u.users, coalesce(l.logged, 0) AS logged
FROM (SELECT usage_date, sum(request_count) AS requests, sum(billable_count) AS billable,
             sum(error_count) AS errors, sum(bytes_sent) AS sent, sum(bytes_received) AS received,
             count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared') AS users
      FROM usage.user_daily_requests WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) u
FULL JOIN (SELECT usage_date, count(*) AS logged FROM raw.access_log_requests
           WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) l USING (usage_date)
"""
TIERS_SQL = """
SELECT request_tier, storage_class, sum(request_count), sum(billable_count)
FROM usage.user_daily_requests WHERE usage_date = ? GROUP BY ALL ORDER BY 3 DESC
"""


def owner_accounts(con, day, configured: list[str]) -> tuple[list[str], str]:
    """The accounts whose 403s are billed on ``day``, and where they came from (for the metadata)."""
    if configured:
        return configured, "BUCKETLENS_ACCOUNT_IDS"
    accounts = [a for (a,) in con.execute(EXPORT_ACCOUNTS_SQL, [day]).fetchall()]
    return accounts, "cost export usage accounts" if accounts else "unknown (only anonymous 403s unbilled)"


def account_spans(con, days, configured: list[str]) -> list[tuple[list, list[str], str]]:
    """The window cut where the owner's accounts change (a new billing period's export may add one):
    (days, accounts, origin) spans, one in the usual case, so each day is billed as on its own."""
    spans: list[tuple[list, list[str], str]] = []
    for day in days:
        accounts, origin = owner_accounts(con, day, configured)
        if spans and spans[-1][1] == accounts:
            spans[-1][0].append(day)
        else:
            spans.append(([day], accounts, origin))
    return spans


def load_window(
    con, days, configured_accounts: list[str] = (), engine: Engine | None = None
) -> list[DayResult]:
    """Stage the window with one query per span of owner accounts on the engine (the warehouse itself by
    default), replace exactly those days, read the per-day figures with one grouped query."""
    spans = account_spans(con, days, list(configured_accounts))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT * FROM usage.user_daily_requests LIMIT 0")
    engine = engine or DuckDBEngine()
    runs = [
        engine.aggregate(
            con, "user_daily_requests", {"start": s[0], "end": s[-1], "owner_accounts": a}, STAGE
        )
        for s, a, _ in spans
    ]
    ran = engine_metadata(functools.reduce(lambda a, b: a.merged(b), runs))
    rows = replace_days(con, "usage.user_daily_requests", STAGE, "usage_date", days)
    figures = window_figures(con, FIGURES_SQL, days)
    origin = {day: (accounts, source) for span, accounts, source in spans for day in span}
    results = []
    for day in days:
        f = {k: int(v or 0) for k, v in figures[day].items()}
        accounts, accounts_from = origin[day]
        metadata = {
            "dagster/row_count": rows[day],
            "requests": dg.MetadataValue.int(f.get("requests", 0)),
            "billable_requests": dg.MetadataValue.int(f.get("billable", 0)),
            "errors": dg.MetadataValue.int(f.get("errors", 0)),
            "bytes_sent": dg.MetadataValue.int(f.get("sent", 0)),
            "bytes_received": dg.MetadataValue.int(f.get("received", 0)),
            "active_users": dg.MetadataValue.int(f.get("users", 0)),
            "owner_accounts": ", ".join(accounts) or "unknown",
            "owner_accounts_from": accounts_from,
            **ran,
        }
        if day == detail_day(days):
            tiers = con.execute(TIERS_SQL, [day]).fetchall()
            metadata["by_tier"] = markdown_table(["tier", "class", "requests", "billable"], tiers)
        check = Check(
            f.get("requests", 0) == f.get("logged", 0),
            {"per_user_total": f.get("requests", 0), "access_log_records": f.get("logged", 0)},
        )
        results.append(DayResult(day, metadata, {"requests_match_logs": check}))
    return results


@daily_asset(
    "user_daily_requests",
    "usage",
    checks=(
        CheckSpec(
            "requests_match_logs",
            "Per-user request counts add up to the parsed access-log records of the day.",
            blocking=True,
        ),
    ),
    # The cost export names the bucket owner's accounts, which decide whether a 403 is billed.
    deps=("access_log_requests", "inventory_objects", "cost_line_items"),
    code_version="2",
)
def user_daily_requests(
    context: dg.AssetExecutionContext, warehouse: Warehouse, pricing: Pricing, engine: QueryEngine
) -> dg.MaterializeResult:
    """One row per user × operation × storage class × status class and day: requests, billable
    requests (not 5xx, not a 403 from anonymous or from outside the owner's accounts), errors, bytes
    sent (egress) and received (uploads), bytes restored from archive. The aggregate runs on the
    configured engine (``BUCKETLENS_ENGINE``); its metadata says which, with its job or query ids."""
    configured = pricing.owner_account_ids()
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        con.execute(ADD_COLUMNS)
        con.execute(access_log.TABLE_DDL)  # stores without S3 server access logs (R2): no requests
        con.execute(cur.TABLE_DDL)  # stores without a cost export: the owner's accounts are unknown
        results = load_window(con, window_days(context), configured, engine.usage_engine())
    return window_result(results)
