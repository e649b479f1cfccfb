"""usage.user_daily_requests: what each user asks of S3, per operation and storage class, each day.

Per-user request figures can only come from the access logs (CloudWatch request metrics stop at
1,000 filters per bucket). A request's storage class decides its fee (a GET of a Deep Archive object is a
Deep Archive request), so each request is joined to the class of the current version it touched in the
day's inventory; objects created that day are not listed yet and count as STANDARD, the class S3 gives
an upload without a storage-class header.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.costing.operations import billable_sql, request_tier_sql
from bucketlens.formats import access_log, cur
from resources.pricing import Pricing
from resources.warehouse import Replacement, Warehouse, replace_partitions, scalar

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
    restored_bytes BIGINT
)"""

STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE stage_user_daily_requests AS
WITH requests AS (
    SELECT * FROM raw.access_log_requests WHERE usage_date = $day
),
touched_class AS (
    SELECT bucket, key, any_value(storage_class) AS storage_class
    FROM raw.inventory_objects
    WHERE snapshot_date = $day
      AND coalesce(is_latest, true) AND NOT coalesce(is_delete_marker, false)
      AND (bucket, key) IN (SELECT (bucket, key) FROM requests WHERE key IS NOT NULL)
    GROUP BY ALL
)
SELECT $day::DATE AS usage_date, r.user_id, r.operation,
       coalesce(c.storage_class, 'STANDARD') AS storage_class,
       CASE WHEN r.http_status IS NULL THEN 'none' ELSE (r.http_status // 100)::VARCHAR || 'xx' END AS http_status_class,
       {tier} AS request_tier,
       count(*) AS request_count,
       count(*) FILTER (WHERE {billable}) AS billable_count,
       count(*) FILTER (WHERE r.http_status >= 400) AS error_count,
       coalesce(sum(r.bytes_sent), 0)::BIGINT AS bytes_sent,
       coalesce(sum(r.object_size) FILTER (
           WHERE r.http_status < 300 AND (starts_with(r.operation, 'REST.PUT.') OR r.operation = 'REST.POST.UPLOAD')
       ), 0)::BIGINT AS bytes_received,
       coalesce(sum(r.object_size) FILTER (
           WHERE r.operation = 'REST.POST.RESTORE' AND r.http_status < 300
       ), 0)::BIGINT AS restored_bytes
FROM requests r LEFT JOIN touched_class c USING (bucket, key)
GROUP BY ALL
"""


# The bucket owner's accounts when BUCKETLENS_ACCOUNT_IDS does not name them: the usage accounts of the
# cost export (every account the bill covers), of the day's billing period or any before it.
EXPORT_ACCOUNTS_SQL = """
SELECT DISTINCT usage_account_id FROM raw.cost_line_items
WHERE usage_account_id IS NOT NULL AND billing_period <= strftime(?::DATE, '%Y-%m') ORDER BY 1
"""


def owner_accounts(con, day, configured: list[str]) -> tuple[list[str], str]:
    """The accounts whose 403s are billed, and where they came from (for the metadata)."""
    if configured:
        return configured, "BUCKETLENS_ACCOUNT_IDS"
    accounts = [a for (a,) in con.execute(EXPORT_ACCOUNTS_SQL, [day]).fetchall()]
    return accounts, "cost export usage accounts" if accounts else "unknown (only anonymous 403s unbilled)"


def load_day(con, day, configured_accounts: list[str] = ()) -> DayResult:
    accounts, accounts_from = owner_accounts(con, day, list(configured_accounts))
    sql = STAGE_SQL.format(
        tier=request_tier_sql("r.operation"),
        billable=billable_sql("r.http_status", "r.requester", "$owner_accounts::VARCHAR[]"),
    )
    con.execute(sql, {"day": day, "owner_accounts": accounts})
    (rows,) = replace_partitions(
        con, [Replacement("usage.user_daily_requests", "stage_user_daily_requests", "usage_date = ?", [day])]
    )
    logged = scalar(con, "SELECT count(*) FROM raw.access_log_requests WHERE usage_date = ?", [day])
    requests, billable, errors, sent, received, users = con.execute(
        """SELECT coalesce(sum(request_count), 0), coalesce(sum(billable_count), 0), coalesce(sum(error_count), 0),
                  coalesce(sum(bytes_sent), 0), coalesce(sum(bytes_received), 0),
                  count(DISTINCT user_id) FILTER (WHERE user_id <> '_shared')
           FROM usage.user_daily_requests WHERE usage_date = ?""",
        [day],
    ).fetchall()[0]
    tiers = con.execute(
        """SELECT request_tier, storage_class, sum(request_count), sum(billable_count)
           FROM usage.user_daily_requests WHERE usage_date = ? GROUP BY ALL ORDER BY 3 DESC""",
        [day],
    ).fetchall()
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "requests": dg.MetadataValue.int(int(requests)),
            "billable_requests": dg.MetadataValue.int(int(billable)),
            "errors": dg.MetadataValue.int(int(errors)),
            "bytes_sent": dg.MetadataValue.int(int(sent)),
            "bytes_received": dg.MetadataValue.int(int(received)),
            "active_users": dg.MetadataValue.int(int(users)),
            "owner_accounts": ", ".join(accounts) or "unknown",
            "owner_accounts_from": accounts_from,
            "by_tier": markdown_table(["tier", "class", "requests", "billable"], tiers),
        },
        checks={
            "requests_match_logs": Check(
                int(requests) == int(logged),
                {"per_user_total": int(requests), "access_log_records": int(logged)},
            )
        },
    )


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
    context: dg.AssetExecutionContext, warehouse: Warehouse, pricing: Pricing
) -> dg.MaterializeResult:
    """One row per user × operation × storage class × status class and day: requests, billable
    requests (not 5xx, not a 403 from anonymous or from outside the owner's accounts), errors, bytes
    sent (egress) and received (uploads), bytes restored from archive."""
    configured = pricing.owner_account_ids()
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        con.execute(access_log.TABLE_DDL)  # stores without S3 server access logs (R2): no requests
        con.execute(cur.TABLE_DDL)  # stores without a cost export: the owner's accounts are unknown
        results = [load_day(con, day, configured) for day in window_days(context)]
    return window_result(results)
