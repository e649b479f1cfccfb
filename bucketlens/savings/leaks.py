"""savings.storage_leaks: data the bucket bills for that nobody should be paying for — orphaned users'
data, old noncurrent versions and delete markers, incomplete multipart uploads — per user and day, with
its monthly cost and the cleanup (a lifecycle rule under the user's prefix, and the keys) to apply.

The SQL (``storage_leaks.sql``) does the work over a window of days; this module prepares the prices it
joins (every storage class, from the price book) and its parameters from the rules file.
"""

from __future__ import annotations

from datetime import date

import duckdb

from bucketlens.anomaly.rules_savings import LeakRules
from bucketlens.costing.price_book import PriceBook
from bucketlens.keys import KeyPattern
from bucketlens.savings import sql
from bucketlens.savings.prices import (
    StoragePrice,
    load_table,
    load_tiers,
    stage_with_bucket_rates,
    storage_prices,
)
from bucketlens.savings.recommendations import prefix_parts

TABLE = "savings.storage_leaks"
PRICES = "sv_storage_prices"
LEAK_TYPES = ("orphaned_data", "noncurrent_versions", "delete_markers", "incomplete_multipart_uploads")
LEAKS_SQL = sql("storage_leaks")

TABLE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS savings;
CREATE TABLE IF NOT EXISTS {TABLE} (
    usage_date DATE NOT NULL,
    bucket VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    leak_type VARCHAR NOT NULL,
    user_status VARCHAR,
    objects BIGINT,
    bytes BIGINT,
    monthly_cost_usd DECIMAL(18, 6),
    oldest TIMESTAMP,
    prefix VARCHAR,
    cleanup_kind VARCHAR,
    cleanup_rule VARCHAR,
    keys VARCHAR
)"""

# Per day: rows that break the table's promises (one row per user × type, nothing negative, a cleanup
# rule naming the user's prefix, orphaned data only for users absent from the users snapshot or in an
# orphaned status).
WELL_FORMED_SQL = f"""
WITH l AS (SELECT * FROM {TABLE} WHERE usage_date BETWEEN $start AND $end),
judged AS (
    SELECT l.usage_date, l.user_id, l.leak_type,
           count(*) OVER (PARTITION BY l.usage_date, l.bucket, l.user_id, l.leak_type) > 1
           OR l.bytes < 0 OR l.monthly_cost_usd < 0 OR l.objects <= 0
           OR NOT list_contains(CAST($leak_types AS VARCHAR[]), l.leak_type)
           OR (l.user_id <> '_shared' AND (
                  NOT json_valid(l.cleanup_rule)
                  OR json_extract_string(l.cleanup_rule, '$.Rules[0].Filter.Prefix') <> l.prefix
                  OR l.prefix <> $prefix_head || l.user_id || $prefix_tail))
           OR (l.leak_type = 'orphaned_data' AND u.user_id IS NOT NULL
               AND NOT list_contains(CAST($statuses AS VARCHAR[]), u.status)) AS wrong
    FROM l LEFT JOIN raw.users u ON u.snapshot_date = l.usage_date AND u.user_id = l.user_id
)
SELECT usage_date, count(*) FILTER (WHERE wrong) AS wrong,
       arg_min(format('user {{}} {{}}', user_id, leak_type), user_id || leak_type) FILTER (WHERE wrong) AS first_wrong
FROM judged GROUP BY usage_date
"""


def load_prices(con: duckdb.DuckDBPyConnection, book: PriceBook, provider: str) -> None:
    """TEMP tables ``sv_storage_prices`` (every class) and ``sv_tiers`` (Standard's) from the price book."""
    load_table(con, PRICES, storage_prices(book, provider), StoragePrice)
    load_tiers(con, book, provider)


def parameters(start: date, end: date, rules: LeakRules, pattern: KeyPattern) -> dict[str, object]:
    head, tail = prefix_parts(pattern)
    return {
        "start": start,
        "end": end,
        "statuses": list(rules.orphaned_statuses),
        "noncurrent_days": rules.noncurrent_version_days,
        "marker_days": rules.delete_marker_days,
        "multipart_days": rules.multipart_upload_days,
        "max_keys": rules.max_keys,
        "prefix_head": head,
        "prefix_tail": tail,
    }


def stage_leaks(
    con: duckdb.DuckDBPyConnection,
    out: str,
    start: date,
    end: date,
    rules: LeakRules,
    book: PriceBook,
    provider: str,
    pattern: KeyPattern,
) -> None:
    """TEMP table ``out``: the rows of ``savings.storage_leaks`` for the days start .. end."""
    load_prices(con, book, provider)
    stage_with_bucket_rates(con, out, LEAKS_SQL, parameters(start, end, rules, pattern))


def well_formed_params(start: date, end: date, rules: LeakRules, pattern: KeyPattern) -> dict[str, object]:
    p = parameters(start, end, rules, pattern)
    keep = {k: v for k, v in p.items() if f"${k}" in WELL_FORMED_SQL}
    return {**keep, "leak_types": list(LEAK_TYPES)}
