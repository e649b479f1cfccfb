"""Split the S3 bill of a window of days over the service's users, exactly, in DuckDB.

Why this shape: the design promises that for every day the sum over users (including ``_shared``) equals
the billed cost *to the cent*. Floating point cannot promise that, so all money is handled as integer
micro-dollars (``cost × 10^6`` as HUGEINT, exact for the warehouse's DECIMAL(18,6)). Each line item's cost
``c`` is split over the users with a positive weight ``w`` for its (driver, storage class) — byte-hours of
that class, Tier-1 requests of that class, bytes sent, … (``WEIGHTS_SQL``) — as ``floor(|c|·w / W)``,
and the ``|c| − Σ floor`` micro-dollars left over go one each to the largest remainders ``(|c|·w) mod W``,
ties to the smaller user id (Hamilton's method). The sign is applied afterwards, so credits split like
charges. Hence Σ shares == c exactly and every share is within one micro-dollar of ``c·w/W``.

A window of days is split in one pass (a backfill is a handful of statements, not a loop of days): every
line item, weight and share carries its ``usage_date``, items are grouped per day, weights are joined on
the day, and the remainders are ranked within each day's item — so each day is split exactly as if it
were alone, and billed and estimated days may be mixed in one window.

Line items nobody's usage explains (no weight, a shared management feature, an unknown usage type) go
whole to ``_shared``; unknown usage types are also reported. Adjustments (tax, credits, refunds,
discounts) are then split the same way over each user's allocated usage cost of the day (``_shared``
included); a day without usage cost gives them to ``_shared``.

Overflow: ``|c|·w`` must fit a HUGEINT (1.7·10^38): costs up to $10^7 (10^13 µ$) with weights up to 10^25
are safe; DuckDB raises an error rather than wrapping if that is ever exceeded.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.costing import cdn as cdn_split
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

# One row per day and line-item group: the cost to split and how to split it.
ITEMS_SQL = """
CREATE OR REPLACE TEMP TABLE {items} AS
WITH day_lines AS (  -- classify each distinct kind of line once, not every hourly row
    SELECT CAST(usage_start AS DATE) AS usage_date, line_item_type, product_code, usage_type, operation,
           pricing_unit, count(*) AS line_count,
           sum(CAST(CAST(CAST(unblended_cost AS DECIMAL(18, 6)) AS DECIMAL(38, 6)) * 1000000 AS HUGEINT)) AS cost_micro
    FROM {line_items}
    WHERE CAST(usage_start AS DATE) BETWEEN $start AND $end
    GROUP BY ALL
), classified AS (
    SELECT *, {classify} AS c FROM day_lines
), labelled AS (
    SELECT usage_date, c.category AS category, c.driver AS driver, {weight_key} AS storage_class, cost_micro,
           line_count,
           CASE
               WHEN c.driver = 'adjustment' THEN coalesce(line_item_type, 'Adjustment')
                    || CASE WHEN coalesce(usage_type, '') <> '' THEN ':' || usage_type ELSE '' END
               WHEN coalesce(usage_type, '') <> '' THEN usage_type
               ELSE 'FOCUS:' || coalesce(operation, '') || '/' || coalesce(pricing_unit, '')
           END AS usage_type
    FROM classified
)
SELECT row_number() OVER (ORDER BY usage_date, category, driver, storage_class NULLS FIRST, usage_type) AS item_id, *
FROM (
    SELECT usage_date, category, driver, storage_class, usage_type, sum(cost_micro) AS cost_micro,
           sum(line_count) AS line_count
    FROM labelled
    GROUP BY ALL
)
"""

# Integer usage weights per (day, driver, storage class, user); storage class '*' = summed over all classes.
WEIGHTS_SQL = """
CREATE OR REPLACE TEMP TABLE {weights} AS
WITH s AS (
    SELECT usage_date, user_id, upper(trim(storage_class)) AS sc,
           CAST(byte_hours AS HUGEINT) AS byte_hours, object_count, small_object_count
    FROM {storage} WHERE usage_date BETWEEN $start AND $end
), operations AS (  -- each distinct operation classified once, not every request row
    SELECT operation, {tier} AS tier, {is_delete} AS is_delete
    FROM (SELECT DISTINCT operation FROM {requests} WHERE usage_date BETWEEN $start AND $end)
), r AS (
    SELECT q.usage_date, q.user_id, {request_class} AS sc, o.tier, o.is_delete,
           q.request_count, q.error_count, q.billable_count, q.bytes_sent, q.bytes_received, q.restored_bytes,
           coalesce(q.cdn_origin_bytes, 0) AS cdn_origin_bytes
    FROM {requests} q JOIN operations o ON o.operation IS NOT DISTINCT FROM q.operation
    WHERE q.usage_date BETWEEN $start AND $end
), measures(usage_date, driver, sc, user_id, w) AS (
    SELECT usage_date, 'byte_hours', sc, user_id, byte_hours FROM s
    UNION ALL
    SELECT usage_date, 'archive_objects', sc, user_id,
           CASE WHEN sc IN ('GLACIER', 'DEEP_ARCHIVE') THEN object_count ELSE small_object_count END
    FROM s
    UNION ALL
    SELECT usage_date, tier, sc, user_id, billable_count FROM r
    WHERE tier IN ('tier1', 'tier2', 'restore', 'lifecycle')
    UNION ALL
    SELECT usage_date, 'retrieval_bytes', sc, user_id,
           CASE WHEN sc IN ('GLACIER', 'DEEP_ARCHIVE') THEN restored_bytes
                WHEN tier = 'tier2' THEN bytes_sent ELSE 0 END
    FROM r
    UNION ALL
    SELECT usage_date, 'early_delete', sc, user_id, request_count - coalesce(error_count, 0) FROM r WHERE is_delete
    UNION ALL
    SELECT usage_date, 'transfer_out_bytes', sc, user_id, bytes_sent - cdn_origin_bytes FROM r  -- not CloudFront's
    UNION ALL
    SELECT usage_date, 'transfer_in_bytes', sc, user_id, bytes_received FROM r{cdn_measures}
), per_class AS (
    SELECT usage_date, driver, sc AS storage_class, user_id,
           sum(greatest(coalesce(CAST(w AS HUGEINT), 0), 0)) AS w
    FROM measures
    WHERE user_id IS NOT NULL
    GROUP BY ALL
)
SELECT usage_date, driver, storage_class, user_id, w FROM per_class WHERE w > 0
UNION ALL
SELECT usage_date, driver, '*', user_id, sum(w) FROM per_class GROUP BY ALL HAVING sum(w) > 0
"""

# Largest-remainder split of each selected item (one day's) over that day's weights; items without weight
# go to _shared. An item id belongs to one day, so partitioning by it ranks remainders within the day.
SPLIT_SQL = """
CREATE OR REPLACE TEMP TABLE {shares} AS
WITH items AS (
    SELECT item_id, usage_date, driver, coalesce(storage_class, '*') AS wkey, cost_micro
    FROM {items} WHERE {item_filter}
), joined AS (
    SELECT i.item_id, i.usage_date, w.user_id, abs(i.cost_micro) AS a, i.cost_micro < 0 AS negative, w.w,
           sum(w.w) OVER (PARTITION BY i.item_id) AS total
    FROM items i
    JOIN {weights} w ON w.usage_date = i.usage_date AND w.driver = i.driver AND w.storage_class = i.wkey
), floored AS (
    SELECT *, (a * w) // total AS base, (a * w) % total AS remainder FROM joined
), ranked AS (
    SELECT *, a - sum(base) OVER (PARTITION BY item_id) AS leftover,
           row_number() OVER (PARTITION BY item_id ORDER BY remainder DESC, user_id) AS place
    FROM floored
)
SELECT item_id, usage_date, user_id,
       CASE WHEN negative THEN -1 ELSE 1 END * (base + CASE WHEN place <= leftover THEN 1 ELSE 0 END) AS micro
FROM ranked
UNION ALL
SELECT item_id, usage_date, '{shared}', cost_micro
FROM items i
WHERE NOT EXISTS (SELECT 1 FROM {weights} w
                  WHERE w.usage_date = i.usage_date AND w.driver = i.driver AND w.storage_class = i.wkey)
"""

# Adjustment weights: each user's net allocated usage micro-dollars of the day (negative nets weigh 0).
ADJUSTMENT_WEIGHTS_SQL = """
INSERT INTO {weights}
SELECT usage_date, 'adjustment', '*', user_id, sum(micro) FROM {shares}
GROUP BY usage_date, user_id HAVING sum(micro) > 0
"""

# $estimated: the days of the window whose line items are the price book's estimate.
OUTPUT_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
SELECT s.usage_date, s.user_id, i.category, {storage_class} AS storage_class,
       CAST(CAST(sum(s.micro) AS DECIMAL(38, 0)) * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6)) AS amount_usd,
       list_contains(CAST($estimated AS DATE[]), s.usage_date) AS is_estimate, i.driver, i.usage_type
FROM (SELECT * FROM {shares} UNION ALL SELECT * FROM {adj_shares}) s
JOIN {items} i USING (item_id)
GROUP BY ALL
HAVING sum(s.micro) <> 0
ORDER BY s.usage_date, s.user_id, i.category, 4 NULLS FIRST, i.driver, i.usage_type
"""

# One row per day of the window (days without line items or usage read 0).
SUMMARY_SQL = """
WITH days AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS DATE) AS usage_date
), items AS (
    SELECT usage_date, sum(line_count) AS line_items, sum(cost_micro) AS billed_micro FROM {items} GROUP BY ALL
), shares AS (
    SELECT usage_date, sum(micro) AS allocated_micro, coalesce(sum(micro) FILTER (WHERE user_id = '{shared}'), 0) AS shared_micro
    FROM (SELECT * FROM {shares} UNION ALL SELECT * FROM {adj_shares}) GROUP BY ALL
), users AS (
    SELECT usage_date, count(DISTINCT user_id) AS users FROM {out} WHERE user_id <> '{shared}' GROUP BY ALL
)
SELECT d.usage_date, coalesce(i.line_items, 0), coalesce(i.billed_micro, 0), coalesce(s.allocated_micro, 0),
       coalesce(u.users, 0), coalesce(s.shared_micro, 0)
FROM days d LEFT JOIN items i USING (usage_date) LEFT JOIN shares s USING (usage_date) LEFT JOIN users u USING (usage_date)
ORDER BY d.usage_date
"""

UNKNOWN_SQL = """
SELECT usage_date, usage_type, sum(cost_micro) FROM {items} WHERE driver = '{unknown}'
GROUP BY ALL ORDER BY usage_date, usage_type
"""

# Per-day billed vs allocated for every day present in either table.
RECONCILIATION_SQL = """
WITH billed AS (
    SELECT CAST(usage_start AS DATE) AS usage_date, sum(CAST(unblended_cost AS DECIMAL(18, 6))) AS billed_usd
    FROM {line_items} WHERE {billed_days} GROUP BY ALL
), allocated AS (
    SELECT usage_date, sum(amount_usd) AS allocated_usd FROM {cost_table} WHERE {allocated_days} GROUP BY ALL
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


def _build_items(con: duckdb.DuckDBPyConnection, window: dict, line_items: str) -> None:
    classify = classify_sql("product_code", "usage_type", "line_item_type", "operation", "pricing_unit")
    weight_key = cdn_split.weight_key_sql("usage_type", "c.storage_class")
    sql = ITEMS_SQL.format(items=_ITEMS, classify=classify, line_items=line_items, weight_key=weight_key)
    con.execute(sql, window)


def _build_weights(
    con: duckdb.DuckDBPyConnection, window: dict, storage: str, requests: str, cdn: str | None
) -> None:
    sql = WEIGHTS_SQL.format(
        weights=_WEIGHTS,
        cdn_measures=cdn_split.measures_sql(cdn),
        storage=storage,
        requests=requests,
        request_class=REQUEST_CLASS_SQL,
        tier=request_tier_sql("operation"),
        is_delete=is_delete_sql("operation"),
    )
    con.execute(sql, window)


def _split(con: duckdb.DuckDBPyConnection, shares: str, item_filter: str) -> None:
    sql = SPLIT_SQL.format(
        shares=shares, items=_ITEMS, weights=_WEIGHTS, item_filter=item_filter, shared=SHARED_USER
    )
    con.execute(sql)


def allocate_days(
    con: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    line_items: str,
    storage: str,
    requests: str,
    out: str,
    *,
    estimated_days: Collection[date] = (),
    cdn: str | None = None,
) -> dict[date, AllocationSummary]:
    """Allocate the line items whose ``usage_start`` falls on a day from ``start`` to ``end`` to the users
    of that day; write TEMP table ``out``; return each day's summary (every day of the window).

    ``out``: ``(usage_date DATE, user_id VARCHAR, category VARCHAR, storage_class VARCHAR,
    amount_usd DECIMAL(18,6), is_estimate BOOLEAN, driver VARCHAR, usage_type VARCHAR)``, one row per
    day and (user, category, storage_class, driver, usage_type) with a non-zero amount; ``is_estimate``
    is true on ``estimated_days`` (their line items are the price book's). ``usage_type`` is the bill's
    usage type (region prefix kept); adjustments read ``<line_item_type>[:<usage_type>]``, FOCUS rows
    ``FOCUS:<operation>/<pricing_unit>``. ``cdn``: the per-user CloudFront table (usage.user_daily_cdn's
    shape) whose bytes and requests per edge region split the CloudFront line items (``costing.cdn``);
    without it they go to ``_shared``. CloudFront rows have category ``cdn`` and no storage class.
    """
    window = {"start": start, "end": end}
    try:
        _build_items(con, window, line_items)
        _build_weights(con, window, storage, requests, cdn)
        _split(con, _SHARES, f"driver <> '{ADJUSTMENT_DRIVER}'")
        con.execute(ADJUSTMENT_WEIGHTS_SQL.format(weights=_WEIGHTS, shares=_SHARES))
        _split(con, _ADJ_SHARES, f"driver = '{ADJUSTMENT_DRIVER}'")
        names = {"out": out, "shares": _SHARES, "adj_shares": _ADJ_SHARES, "items": _ITEMS}
        output = OUTPUT_SQL.format(
            **names, storage_class=cdn_split.output_storage_class_sql("i.category", "i.storage_class")
        )
        con.execute(output, {"estimated": sorted(estimated_days)})
        return _summaries(con, window, out)
    finally:
        for table in (_ITEMS, _WEIGHTS, _SHARES, _ADJ_SHARES):
            con.execute(f"DROP TABLE IF EXISTS {table}")


def allocate_day(
    con: duckdb.DuckDBPyConnection,
    day: date,
    line_items: str,
    storage: str,
    requests: str,
    out: str,
    *,
    is_estimate: bool = False,
    cdn: str | None = None,
) -> AllocationSummary:
    """:func:`allocate_days` for the one day ``day``."""
    estimated = [day] if is_estimate else []
    return allocate_days(
        con, day, day, line_items, storage, requests, out, estimated_days=estimated, cdn=cdn
    )[day]


def _summaries(con: duckdb.DuckDBPyConnection, window: dict, out: str) -> dict[date, AllocationSummary]:
    sql = SUMMARY_SQL.format(
        out=out, shares=_SHARES, adj_shares=_ADJ_SHARES, items=_ITEMS, shared=SHARED_USER
    )
    unknown: dict[date, list[tuple[str, Decimal]]] = {}
    for day, usage_type, cost in con.execute(UNKNOWN_SQL.format(items=_ITEMS, unknown=UNKNOWN)).fetchall():
        unknown.setdefault(day, []).append((usage_type, micros_to_usd(cost)))
    return {
        day: AllocationSummary(
            day=day,
            line_items=int(line_count),
            billed_total=micros_to_usd(billed),
            allocated_total=micros_to_usd(allocated),
            users=int(users),
            unknown_usage_types=unknown.get(day, []),
            shared_total=micros_to_usd(shared),
        )
        for day, line_count, billed, allocated, users, shared in con.execute(sql, window).fetchall()
    }


def reconciliation_sql(cost_table: str, line_items: str) -> str:
    """SQL giving ``(usage_date, billed_usd, allocated_usd, difference_usd)`` for every day in either table."""
    return RECONCILIATION_SQL.format(
        cost_table=cost_table, line_items=line_items, billed_days="true", allocated_days="true"
    )


def reconcile_days(
    con: duckdb.DuckDBPyConnection, cost_table: str, line_items: str, start: date, end: date
) -> dict[date, Reconciliation]:
    """Billed (Σ ``unblended_cost`` of the day's line items) vs allocated (Σ ``amount_usd`` of the day),
    for every day from ``start`` to ``end`` (0 vs 0 for a day in neither table)."""
    sql = RECONCILIATION_SQL.format(
        cost_table=cost_table,
        line_items=line_items,
        billed_days="CAST(usage_start AS DATE) BETWEEN $start AND $end",
        allocated_days="usage_date BETWEEN $start AND $end",
    )
    found = {
        day: Reconciliation(Decimal(billed), Decimal(allocated), Decimal(difference))
        for day, billed, allocated, difference in con.execute(sql, {"start": start, "end": end}).fetchall()
    }
    zero = Decimal("0.000000")
    days = (date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1))
    return {day: found.get(day, Reconciliation(zero, zero, zero)) for day in days}


def reconcile(con: duckdb.DuckDBPyConnection, cost_table: str, line_items: str, day: date) -> Reconciliation:
    """Billed (Σ ``unblended_cost`` of the day's line items) vs allocated (Σ ``amount_usd`` of the day)."""
    return reconcile_days(con, cost_table, line_items, day, day)[day]
