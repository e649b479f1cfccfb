"""Split one day of the S3 bill over the service's users, exactly, in DuckDB.

Why this shape: the design promises that for every day the sum over users (including ``_shared``) equals
the billed cost *to the cent*. Floating point cannot promise that, so all money is handled as integer
micro-dollars (``cost × 10^6`` as HUGEINT, exact for the warehouse's DECIMAL(18,6)). Each line item's cost
``c`` is split over the users with a positive weight ``w`` for its (driver, storage class) — byte-hours of
that class, Tier-1 requests of that class, bytes sent, … (``WEIGHTS_SQL``) — as ``floor(|c|·w / W)``,
and the ``|c| − Σ floor`` micro-dollars left over go one each to the largest remainders ``(|c|·w) mod W``,
ties to the smaller user id (Hamilton's method). The sign is applied afterwards, so credits split like
charges. Hence Σ shares == c exactly and every share is within one micro-dollar of ``c·w/W``.

Line items nobody's usage explains (no weight, a shared management feature, an unknown usage type) go
whole to ``_shared``; unknown usage types are also reported. Adjustments (tax, credits, refunds,
discounts) are then split the same way over each user's allocated usage cost of the day (``_shared``
included); a day without usage cost gives them to ``_shared``.

Overflow: ``|c|·w`` must fit a HUGEINT (1.7·10^38): costs up to $10^7 (10^13 µ$) with weights up to 10^25
are safe; DuckDB raises an error rather than wrapping if that is ever exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.costing.operations import is_delete_sql, request_tier_sql
from bucketlens.costing.usage_types import ADJUSTMENT_DRIVER, UNKNOWN, classify_sql

SHARED_USER = "_shared"
ALL_CLASSES = "*"
MICROS = 1_000_000

_ITEMS = "__bucketlens_alloc_items"
_WEIGHTS = "__bucketlens_alloc_weights"
_SHARES = "__bucketlens_alloc_shares"
_ADJ_SHARES = "__bucketlens_alloc_adjustment_shares"

# Request rows: classes AWS bills requests for separately; anything else (unknown, RRS, Express) counts as
# STANDARD, whose `Requests-Tier1/2` also cover Reduced Redundancy.
REQUEST_CLASS_SQL = """CASE WHEN upper(trim(storage_class)) IN ('INTELLIGENT_TIERING', 'STANDARD_IA', 'ONEZONE_IA',
        'GLACIER_IR', 'GLACIER', 'DEEP_ARCHIVE') THEN upper(trim(storage_class))
    ELSE 'STANDARD' END"""

# One row per line-item group of the day: the cost to split and how to split it.
ITEMS_SQL = """
CREATE OR REPLACE TEMP TABLE {items} AS
WITH day_lines AS (  -- classify each distinct kind of line once, not every hourly row
    SELECT line_item_type, product_code, usage_type, operation, pricing_unit, count(*) AS line_count,
           sum(CAST(CAST(CAST(unblended_cost AS DECIMAL(18, 6)) AS DECIMAL(38, 6)) * 1000000 AS HUGEINT)) AS cost_micro
    FROM {line_items}
    WHERE CAST(usage_start AS DATE) = $day
    GROUP BY ALL
), classified AS (
    SELECT *, {classify} AS c FROM day_lines
), labelled AS (
    SELECT c.category AS category, c.driver AS driver, c.storage_class AS storage_class, cost_micro, line_count,
           CASE
               WHEN c.driver = 'adjustment' THEN coalesce(line_item_type, 'Adjustment')
                    || CASE WHEN coalesce(usage_type, '') <> '' THEN ':' || usage_type ELSE '' END
               WHEN coalesce(usage_type, '') <> '' THEN usage_type
               ELSE 'FOCUS:' || coalesce(operation, '') || '/' || coalesce(pricing_unit, '')
           END AS usage_type
    FROM classified
)
SELECT row_number() OVER (ORDER BY category, driver, storage_class NULLS FIRST, usage_type) AS item_id, *
FROM (
    SELECT category, driver, storage_class, usage_type, sum(cost_micro) AS cost_micro, sum(line_count) AS line_count
    FROM labelled
    GROUP BY ALL
)
"""

# Integer usage weights per (driver, storage class, user); storage class '*' = summed over all classes.
WEIGHTS_SQL = """
CREATE OR REPLACE TEMP TABLE {weights} AS
WITH s AS (
    SELECT user_id, upper(trim(storage_class)) AS sc,
           CAST(byte_hours AS HUGEINT) AS byte_hours, object_count, small_object_count
    FROM {storage} WHERE usage_date = $day
), r AS (
    SELECT user_id, {request_class} AS sc, {tier} AS tier, {is_delete} AS is_delete,
           request_count, error_count, billable_count, bytes_sent, bytes_received, restored_bytes
    FROM {requests} WHERE usage_date = $day
), measures(driver, sc, user_id, w) AS (
    SELECT 'byte_hours', sc, user_id, byte_hours FROM s
    UNION ALL
    SELECT 'archive_objects', sc, user_id,
           CASE WHEN sc IN ('GLACIER', 'DEEP_ARCHIVE') THEN object_count ELSE small_object_count END
    FROM s
    UNION ALL
    SELECT tier, sc, user_id, billable_count FROM r WHERE tier IN ('tier1', 'tier2', 'restore', 'lifecycle')
    UNION ALL
    SELECT 'retrieval_bytes', sc, user_id,
           CASE WHEN sc IN ('GLACIER', 'DEEP_ARCHIVE') THEN restored_bytes
                WHEN tier = 'tier2' THEN bytes_sent ELSE 0 END
    FROM r
    UNION ALL
    SELECT 'early_delete', sc, user_id, request_count - coalesce(error_count, 0) FROM r WHERE is_delete
    UNION ALL
    SELECT 'transfer_out_bytes', sc, user_id, bytes_sent FROM r
    UNION ALL
    SELECT 'transfer_in_bytes', sc, user_id, bytes_received FROM r
), per_class AS (
    SELECT driver, sc AS storage_class, user_id, sum(greatest(coalesce(CAST(w AS HUGEINT), 0), 0)) AS w
    FROM measures
    WHERE user_id IS NOT NULL
    GROUP BY ALL
)
SELECT driver, storage_class, user_id, w FROM per_class WHERE w > 0
UNION ALL
SELECT driver, '*', user_id, sum(w) FROM per_class GROUP BY ALL HAVING sum(w) > 0
"""

# Largest-remainder split of each selected item over its weights; items without weight go to _shared.
SPLIT_SQL = """
CREATE OR REPLACE TEMP TABLE {shares} AS
WITH items AS (
    SELECT item_id, driver, coalesce(storage_class, '*') AS wkey, cost_micro
    FROM {items} WHERE {item_filter}
), joined AS (
    SELECT i.item_id, w.user_id, abs(i.cost_micro) AS a, i.cost_micro < 0 AS negative, w.w,
           sum(w.w) OVER (PARTITION BY i.item_id) AS total
    FROM items i JOIN {weights} w ON w.driver = i.driver AND w.storage_class = i.wkey
), floored AS (
    SELECT *, (a * w) // total AS base, (a * w) % total AS remainder FROM joined
), ranked AS (
    SELECT *, a - sum(base) OVER (PARTITION BY item_id) AS leftover,
           row_number() OVER (PARTITION BY item_id ORDER BY remainder DESC, user_id) AS place
    FROM floored
)
SELECT item_id, user_id,
       CASE WHEN negative THEN -1 ELSE 1 END * (base + CASE WHEN place <= leftover THEN 1 ELSE 0 END) AS micro
FROM ranked
UNION ALL
SELECT item_id, '{shared}', cost_micro
FROM items i
WHERE NOT EXISTS (SELECT 1 FROM {weights} w WHERE w.driver = i.driver AND w.storage_class = i.wkey)
"""

# Adjustment weights: each user's net allocated usage micro-dollars of the day (negative nets weigh 0).
ADJUSTMENT_WEIGHTS_SQL = """
INSERT INTO {weights}
SELECT 'adjustment', '*', user_id, sum(micro) FROM {shares} GROUP BY user_id HAVING sum(micro) > 0
"""

OUTPUT_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
SELECT CAST($day AS DATE) AS usage_date, s.user_id, i.category, i.storage_class,
       CAST(CAST(sum(s.micro) AS DECIMAL(38, 0)) * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6)) AS amount_usd,
       CAST($is_estimate AS BOOLEAN) AS is_estimate, i.driver, i.usage_type
FROM (SELECT * FROM {shares} UNION ALL SELECT * FROM {adj_shares}) s
JOIN {items} i USING (item_id)
GROUP BY ALL
HAVING sum(s.micro) <> 0
ORDER BY s.user_id, i.category, i.storage_class NULLS FIRST, i.driver, i.usage_type
"""

SUMMARY_SQL = """
SELECT
    (SELECT count(*) FROM {items}) AS item_groups,
    (SELECT coalesce(sum(line_count), 0) FROM {items}) AS line_items,
    (SELECT coalesce(sum(cost_micro), 0) FROM {items}) AS billed_micro,
    (SELECT coalesce(sum(micro), 0) FROM (SELECT micro FROM {shares} UNION ALL SELECT micro FROM {adj_shares})) AS allocated_micro,
    (SELECT count(DISTINCT user_id) FROM {out} WHERE user_id <> '{shared}') AS users,
    (SELECT coalesce(sum(micro), 0) FROM (SELECT * FROM {shares} UNION ALL SELECT * FROM {adj_shares})
        WHERE user_id = '{shared}') AS shared_micro
"""

UNKNOWN_SQL = """
SELECT usage_type, sum(cost_micro) FROM {items} WHERE driver = '{unknown}' GROUP BY usage_type ORDER BY usage_type
"""

# Per-day billed vs allocated for every day present in either table (the blocking asset check).
RECONCILIATION_SQL = """
WITH billed AS (
    SELECT CAST(usage_start AS DATE) AS usage_date, sum(CAST(unblended_cost AS DECIMAL(18, 6))) AS billed_usd
    FROM {line_items} GROUP BY ALL
), allocated AS (
    SELECT usage_date, sum(amount_usd) AS allocated_usd FROM {cost_table} GROUP BY ALL
)
SELECT usage_date,
       CAST(coalesce(billed_usd, 0) AS DECIMAL(18, 6)) AS billed_usd,
       CAST(coalesce(allocated_usd, 0) AS DECIMAL(18, 6)) AS allocated_usd,
       CAST(coalesce(allocated_usd, 0) - coalesce(billed_usd, 0) AS DECIMAL(18, 6)) AS difference_usd
FROM billed FULL OUTER JOIN allocated USING (usage_date)
ORDER BY usage_date
"""


def micros_to_usd(micro: int) -> Decimal:
    return Decimal(int(micro)).scaleb(-6)


@dataclass(frozen=True)
class AllocationSummary:
    day: date
    line_items: int  # CUR rows of the day
    billed_total: Decimal  # Σ unblended_cost of the day
    allocated_total: Decimal  # Σ amount_usd written; equals billed_total by construction
    users: int  # distinct users with a row, `_shared` not counted
    unknown_usage_types: list[tuple[str, Decimal]] = field(default_factory=list)  # (usage type, cost)
    shared_total: Decimal = Decimal("0.000000")

    @property
    def difference(self) -> Decimal:
        return self.allocated_total - self.billed_total


@dataclass(frozen=True)
class Reconciliation:
    billed: Decimal
    allocated: Decimal
    difference: Decimal  # allocated − billed

    @property
    def ok(self) -> bool:
        return self.difference == 0


def _build_items(con: duckdb.DuckDBPyConnection, day: date, line_items: str) -> None:
    classify = classify_sql("product_code", "usage_type", "line_item_type", "operation", "pricing_unit")
    con.execute(ITEMS_SQL.format(items=_ITEMS, classify=classify, line_items=line_items), {"day": day})


def _build_weights(con: duckdb.DuckDBPyConnection, day: date, storage: str, requests: str) -> None:
    sql = WEIGHTS_SQL.format(
        weights=_WEIGHTS,
        storage=storage,
        requests=requests,
        request_class=REQUEST_CLASS_SQL,
        tier=request_tier_sql("operation"),
        is_delete=is_delete_sql("operation"),
    )
    con.execute(sql, {"day": day})


def _split(con: duckdb.DuckDBPyConnection, shares: str, item_filter: str) -> None:
    sql = SPLIT_SQL.format(
        shares=shares, items=_ITEMS, weights=_WEIGHTS, item_filter=item_filter, shared=SHARED_USER
    )
    con.execute(sql)


def allocate_day(
    con: duckdb.DuckDBPyConnection,
    day: date,
    line_items: str,
    storage: str,
    requests: str,
    out: str,
    *,
    is_estimate: bool = False,
) -> AllocationSummary:
    """Allocate the line items whose ``usage_start`` falls on ``day`` to users; write TEMP table ``out``.

    ``out``: ``(usage_date DATE, user_id VARCHAR, category VARCHAR, storage_class VARCHAR,
    amount_usd DECIMAL(18,6), is_estimate BOOLEAN, driver VARCHAR, usage_type VARCHAR)``, one row per
    (user, category, storage_class, driver, usage_type) with a non-zero amount. ``usage_type`` is the
    bill's usage type (region prefix kept); adjustments read ``<line_item_type>[:<usage_type>]``, FOCUS rows
    ``FOCUS:<operation>/<pricing_unit>``.
    """
    try:
        _build_items(con, day, line_items)
        _build_weights(con, day, storage, requests)
        _split(con, _SHARES, f"driver <> '{ADJUSTMENT_DRIVER}'")
        con.execute(ADJUSTMENT_WEIGHTS_SQL.format(weights=_WEIGHTS, shares=_SHARES))
        _split(con, _ADJ_SHARES, f"driver = '{ADJUSTMENT_DRIVER}'")
        names = {"out": out, "shares": _SHARES, "adj_shares": _ADJ_SHARES, "items": _ITEMS}
        con.execute(OUTPUT_SQL.format(**names), {"day": day, "is_estimate": is_estimate})
        return _summary(con, day, out)
    finally:
        for table in (_ITEMS, _WEIGHTS, _SHARES, _ADJ_SHARES):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def _summary(con: duckdb.DuckDBPyConnection, day: date, out: str) -> AllocationSummary:
    sql = SUMMARY_SQL.format(
        out=out, shares=_SHARES, adj_shares=_ADJ_SHARES, items=_ITEMS, shared=SHARED_USER
    )
    (_, line_count, billed, allocated, users, shared) = con.execute(sql).fetchall()[0]
    unknown = con.execute(UNKNOWN_SQL.format(items=_ITEMS, unknown=UNKNOWN)).fetchall()
    return AllocationSummary(
        day=day,
        line_items=int(line_count),
        billed_total=micros_to_usd(billed),
        allocated_total=micros_to_usd(allocated),
        users=int(users),
        unknown_usage_types=[(usage_type, micros_to_usd(cost)) for usage_type, cost in unknown],
        shared_total=micros_to_usd(shared),
    )


def reconciliation_sql(cost_table: str, line_items: str) -> str:
    """SQL giving ``(usage_date, billed_usd, allocated_usd, difference_usd)`` for every day in either table."""
    return RECONCILIATION_SQL.format(cost_table=cost_table, line_items=line_items)


def reconcile(con: duckdb.DuckDBPyConnection, cost_table: str, line_items: str, day: date) -> Reconciliation:
    """Billed (Σ ``unblended_cost`` of the day's line items) vs allocated (Σ ``amount_usd`` of the day)."""
    sql = f"SELECT billed_usd, allocated_usd, difference_usd FROM ({reconciliation_sql(cost_table, line_items)}) WHERE usage_date = $day"
    rows = con.execute(sql, {"day": day}).fetchall()
    if not rows:
        zero = Decimal("0.000000")
        return Reconciliation(zero, zero, zero)
    billed, allocated, difference = rows[0]
    return Reconciliation(Decimal(billed), Decimal(allocated), Decimal(difference))
