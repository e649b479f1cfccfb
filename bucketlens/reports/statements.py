"""Per-user statements for a month to date: usage, requests by class, CDN (CloudFront) requests and bytes,
attributed cost (by category; ``cost_cdn_usd`` is CloudFront's) and quota use.

One row per user (and ``_shared``, the cost no user caused), all users in one query, written as
``user_statements/<YYYY-MM>.csv`` and ``.json``. Money stays DECIMAL(18,6) from the warehouse to the
files, so the statements add up to the month's bill exactly — which ``reconcile`` proves by reading the
CSV back, not the table it came from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from bucketlens.reports.files import month_stem, report_path, temp_sibling, write_atomic
from bucketlens.reports.savings import USER_SAVINGS, stage_user_savings
from bucketlens.reports.warehouse import has_columns

NAME = "user_statements"
TABLE = "report_user_statements"

# Average storage is over the days of the period that have any storage rows (a user absent on such a
# day stored nothing that day). Requests by class use the billing tiers of bucketlens.costing.operations.
STATEMENTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {TABLE} AS
WITH period_days AS (
    SELECT count(DISTINCT usage_date) AS n FROM usage.user_daily_storage WHERE usage_date BETWEEN $start AND $day
),
storage AS (
    SELECT user_id,
           sum(bytes) / (SELECT n FROM period_days) AS avg_bytes,
           sum(bytes) FILTER (WHERE usage_date = $day) AS end_bytes,
           sum(object_count) FILTER (WHERE usage_date = $day) AS end_objects,
           sum(bytes_added) AS bytes_added
    FROM usage.user_daily_storage WHERE usage_date BETWEEN $start AND $day GROUP BY user_id
),
requests AS (
    SELECT user_id,
           sum(request_count) FILTER (WHERE request_tier = 'tier1') AS tier1,
           sum(request_count) FILTER (WHERE request_tier = 'tier2') AS tier2,
           sum(request_count) FILTER (WHERE request_tier = 'restore') AS restore,
           sum(request_count) FILTER (WHERE request_tier = 'lifecycle') AS lifecycle,
           sum(request_count) FILTER (WHERE request_tier = 'free') AS free,
           sum(request_count) AS total, sum(error_count) AS errors, sum(bytes_sent) AS bytes_sent
    FROM usage.user_daily_requests WHERE usage_date BETWEEN $start AND $day GROUP BY user_id
),
cost AS (
    SELECT user_id,
           sum(amount_usd) FILTER (WHERE category = 'storage') AS storage,
           sum(amount_usd) FILTER (WHERE category = 'requests') AS requests,
           sum(amount_usd) FILTER (WHERE category = 'transfer') AS transfer,
           sum(amount_usd) FILTER (WHERE category = 'retrieval') AS retrieval,
           sum(amount_usd) FILTER (WHERE category = 'adjustment') AS adjustment,
           sum(amount_usd) FILTER (WHERE category = 'cdn') AS cdn,
           sum(amount_usd) FILTER (WHERE category NOT IN ('storage', 'requests', 'transfer', 'retrieval', 'adjustment',
                                                          'cdn')) AS other,
           sum(amount_usd) AS total, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost WHERE usage_date BETWEEN $start AND $day GROUP BY user_id
),
cdn AS (SELECT * FROM statement_cdn),
quota AS (SELECT * FROM cost.user_quota_use WHERE usage_date = $day),
acts AS (SELECT * FROM statement_actions),
people AS (
    SELECT user_id FROM raw.users WHERE snapshot_date = $day
    UNION SELECT user_id FROM storage UNION SELECT user_id FROM requests UNION SELECT user_id FROM cost
    UNION SELECT user_id FROM cdn
)
SELECT strftime($start::DATE, '%Y-%m') AS month, $day::DATE AS as_of, p.user_id, q.plan,
       coalesce(round(s.avg_bytes), 0)::BIGINT AS avg_bytes_stored,
       coalesce(s.end_bytes, 0)::BIGINT AS end_bytes_stored,
       coalesce(s.end_objects, 0)::BIGINT AS end_objects,
       coalesce(s.bytes_added, 0)::BIGINT AS bytes_added,
       coalesce(r.tier1, 0)::BIGINT AS requests_tier1, coalesce(r.tier2, 0)::BIGINT AS requests_tier2,
       coalesce(r.restore, 0)::BIGINT AS requests_restore, coalesce(r.lifecycle, 0)::BIGINT AS requests_lifecycle,
       coalesce(r.free, 0)::BIGINT AS requests_free, coalesce(r.total, 0)::BIGINT AS requests_total,
       coalesce(r.errors, 0)::BIGINT AS request_errors, coalesce(r.bytes_sent, 0)::BIGINT AS bytes_sent,
       coalesce(d.requests, 0)::BIGINT AS cdn_requests, coalesce(d.bytes_sent, 0)::BIGINT AS cdn_bytes_sent,
       coalesce(c.storage, 0)::DECIMAL(18, 6) AS cost_storage_usd,
       coalesce(c.requests, 0)::DECIMAL(18, 6) AS cost_requests_usd,
       coalesce(c.transfer, 0)::DECIMAL(18, 6) AS cost_transfer_usd,
       coalesce(c.retrieval, 0)::DECIMAL(18, 6) AS cost_retrieval_usd,
       coalesce(c.adjustment, 0)::DECIMAL(18, 6) AS cost_adjustment_usd,
       coalesce(c.other, 0)::DECIMAL(18, 6) AS cost_other_usd,
       coalesce(c.cdn, 0)::DECIMAL(18, 6) AS cost_cdn_usd,
       coalesce(c.total, 0)::DECIMAL(18, 6) AS cost_total_usd,
       coalesce(c.is_estimate, false) AS includes_estimate,
       q.quota_bytes, round(q.quota_use_pct, 3) AS quota_use_pct,
       coalesce(a.actions_requested, 0)::BIGINT AS actions_requested, coalesce(a.actions, '') AS actions,
       sv.recommended_class, sv.recommended_saving_usd, sv.leak_bytes, sv.leak_monthly_usd
FROM people p
LEFT JOIN storage s USING (user_id) LEFT JOIN requests r USING (user_id)
LEFT JOIN cost c USING (user_id) LEFT JOIN cdn d USING (user_id) LEFT JOIN quota q USING (user_id)
LEFT JOIN acts a USING (user_id)
LEFT JOIN {USER_SAVINGS} sv USING (user_id)
ORDER BY p.user_id
"""

# Response actions about the user's data of the month (bucketlens.actions): how many the service was asked
# to apply, and every decision in one readable cell ("2026-11-09 rapid_upload → block_uploads: requested
# by policy, lifted"). A warehouse without the actions layer yet has none.
ACTIONS_SQL = """
CREATE OR REPLACE TEMP TABLE statement_actions AS
SELECT user_id, count(*) FILTER (WHERE state = 'requested') AS actions_requested,
       string_agg(strftime(usage_date, '%Y-%m-%d') || ' ' || rule || ' → ' || action || ': ' || state
                  || CASE WHEN coalesce(decided_by, '') <> '' THEN ' by ' || decided_by ELSE '' END
                  || CASE WHEN lift_state = 'sent' THEN ', lifted' ELSE '' END,
                  '; ' ORDER BY usage_date, rule, action) AS actions
FROM actions.action_requests WHERE usage_date BETWEEN $start AND $day GROUP BY user_id
"""
NO_ACTIONS_SQL = "CREATE OR REPLACE TEMP TABLE statement_actions (user_id VARCHAR, actions_requested BIGINT, actions VARCHAR)"

# CloudFront usage of the month per user (requests, bytes to viewers); none without the CDN layer.
CDN_SQL = """
CREATE OR REPLACE TEMP TABLE statement_cdn AS
SELECT user_id, sum(requests) AS requests, sum(bytes_sent) AS bytes_sent FROM usage.user_daily_cdn
WHERE usage_date BETWEEN $start AND $day GROUP BY user_id
"""
NO_CDN_SQL = (
    "CREATE OR REPLACE TEMP TABLE statement_cdn (user_id VARCHAR, requests BIGINT, bytes_sent BIGINT)"
)

# The month's bill to date: billed line items for the days the export covers, and the price book's
# estimate (as attributed) for the days it does not yet.
BILLED_SQL = """
SELECT (SELECT coalesce(sum(unblended_cost), 0) FROM raw.cost_line_items
        WHERE CAST(usage_start AS DATE) BETWEEN $start AND $day)
     + (SELECT coalesce(sum(amount_usd), 0) FROM cost.user_daily_cost
        WHERE usage_date BETWEEN $start AND $day AND is_estimate) AS billed,
       (SELECT count(DISTINCT usage_date) FROM cost.user_daily_cost
        WHERE usage_date BETWEEN $start AND $day AND is_estimate) AS estimated_days
"""

JSON_SQL = f"""
SELECT to_json({{
    'month': strftime($start::DATE, '%Y-%m'), 'as_of': $day::DATE, 'currency': 'USD',
    'billed_total_usd': $billed::DECIMAL(18, 6),
    'users': (SELECT list(s ORDER BY s.user_id) FROM {TABLE} s)
}})::VARCHAR
"""


@dataclass(frozen=True)
class Statements:
    csv: Path
    json: Path
    users: int
    total_usd: Decimal  # read back from the CSV file
    billed_usd: Decimal
    estimated_days: int

    @property
    def reconciles(self) -> bool:
        """Equal to the cent (in practice to the micro-dollar: the shares are exact decimals)."""
        return self.total_usd.quantize(Decimal("0.01")) == self.billed_usd.quantize(Decimal("0.01"))


def write_statements(con: duckdb.DuckDBPyConnection, day: date, reports_dir: str | Path) -> Statements:
    """Stage every user's statement for the month containing ``day`` up to ``day``; write both files."""
    start = day.replace(day=1)
    if has_columns(con, "actions.action_requests", "user_id", "state", "lift_state"):
        con.execute(ACTIONS_SQL, {"start": start, "day": day})
    else:
        con.execute(NO_ACTIONS_SQL)
    if has_columns(con, "usage.user_daily_cdn", "user_id", "requests", "bytes_sent"):
        con.execute(CDN_SQL, {"start": start, "day": day})
    else:
        con.execute(NO_CDN_SQL)
    stage_user_savings(con, day)
    con.execute(STATEMENTS_SQL, {"start": start, "day": day})
    billed, estimated = con.execute(BILLED_SQL, {"start": start, "day": day}).fetchall()[0]
    csv_path = report_path(reports_dir, NAME, month_stem(day), ".csv")
    tmp = temp_sibling(csv_path)
    try:
        con.table(TABLE).write_csv(str(tmp), header=True)
        os.replace(tmp, csv_path)
    finally:
        tmp.unlink(missing_ok=True)
    (document,) = con.execute(JSON_SQL, {"start": start, "day": day, "billed": billed}).fetchall()[0]
    json_path = write_atomic(report_path(reports_dir, NAME, month_stem(day), ".json"), document + "\n")
    users, total = con.execute(
        "SELECT count(*), coalesce(sum(cost_total_usd::DECIMAL(18, 6)), 0) FROM read_csv(?, all_varchar = true)",
        [str(csv_path)],
    ).fetchall()[0]
    return Statements(csv_path, json_path, int(users), total, billed, int(estimated))
