"""Estimate a day's bill from usage and list prices, before the cost export covers that day.

Why: the cost export lags by a day or more, and the R2 what-if has no bill at all. The estimate is written
as CUR-shaped line items with the usage-type names AWS uses (``TimedStorage-ByteHrs``, ``Requests-Tier1``,
…) so the very same classifier and :func:`bucketlens.costing.allocation.allocate_day` split it over users
(with ``is_estimate=True``); a later export replaces it through a partition rerun.

Prices come from ``price_book.json`` (a copy of shared/formats/price_book.json; its ``_about`` text says
where each figure came from and when — cite :attr:`PriceBook.about` wherever an estimate is shown).

Rules and simplifications (documented, deliberate):
- AWS storage: GB-Mo = byte-hours / 2^30 / hours in that month. STANDARD (and Intelligent-Tiering, all
  priced at its Frequent Access rate since the inventory does not tell the access tier) use the tiered
  price blended at the bucket's size that day, as if the bucket stayed that size all month. Unknown
  classes and REDUCED_REDUNDANCY are priced as STANDARD.
- GLACIER / DEEP_ARCHIVE: per object 32 KiB at the class rate + 8 KiB at the STANDARD rate, both emitted
  under the class's ``*-Staging`` usage type so they are split by object count. Small-object minimums of
  the IA classes and minimum-duration (early delete) fees are not estimated (sizes of small objects and
  object ages are not in the daily usage tables).
- Intelligent-Tiering monitoring: objects ≥ 128 KiB × the per-1,000-objects-month fee, pro rata per day.
- Requests per 1,000 by tier and class; lifecycle transitions at the destination class's transition price
  (read from the operation, e.g. ``S3.TRANSITION_SIA.OBJECT``), all under ``Requests-Tier4``; restores at
  the *standard* restore price (the log does not say which retrieval tier was asked for).
- Retrieval per GB: IA classes by bytes sent by GETs, Glacier/Deep Archive by restored bytes at the
  standard retrieval rate.
- Transfer out: all bytes sent at the first paid internet tier; the 100 GB/month free tier (shared by the
  whole account) and same-region/CloudFront free transfer are ignored, so this over-estimates.
- R2: every class is priced as R2 Standard (storage per 30-day GB-month, Class A = Tier-1, Class B = Tier-2,
  lifecycle = Class A, no restores, egress free); the free tier is ignored; a GB is taken as 2^30 bytes.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.costing.allocation import REQUEST_CLASS_SQL
from bucketlens.costing.operations import request_tier_sql
from bucketlens.costing.price_book import (
    AWS,
    CLASS_NAMES,
    GIB,
    PROVIDERS,
    R2,
    PriceBook,
    aws_prices,
    hours_in_month,
    r2_prices,
)

_PRICES = "__bucketlens_estimate_prices"


@dataclass(frozen=True)
class EstimateSummary:
    day: date
    provider: str
    line_items: int
    total: Decimal
    price_source: str  # PriceBook.about: cite it with the estimate


# Usage quantities per (day, kind, storage class); storage in GB-Mo (÷ the month's hours), bytes in GB.
# Each quantity is an exact integer sum divided once (a sum of doubles depends on DuckDB's summation order,
# and a window of days must price each day exactly as that day alone). $days: the days to estimate.
QUANTITIES_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
WITH s AS (
    SELECT usage_date,
           CASE WHEN upper(trim(storage_class)) IN ({storage_classes}) THEN upper(trim(storage_class))
                ELSE 'STANDARD' END AS sc,
           sum(CAST(byte_hours AS HUGEINT)) AS byte_hours, sum(object_count) AS objects,
           sum(object_count - coalesce(small_object_count, 0)) AS large_objects
    FROM {storage} WHERE list_contains(CAST($days AS DATE[]), usage_date) GROUP BY ALL
), r AS (  -- summed per operation first, so each distinct operation is classified once
    SELECT usage_date, {tier} AS tier, {request_class} AS sc,
           CASE regexp_extract(upper(operation), '^S3\\.TRANSITION_?([A-Z]*)\\.', 1)
               WHEN 'SIA' THEN 'STANDARD_IA' WHEN 'ZIA' THEN 'ONEZONE_IA' WHEN 'INT' THEN 'INTELLIGENT_TIERING'
               WHEN 'GIR' THEN 'GLACIER_IR' WHEN 'GDA' THEN 'DEEP_ARCHIVE' ELSE 'GLACIER' END AS transition_to,
           billable_count, bytes_sent, restored_bytes, cdn_origin_bytes
    FROM (SELECT usage_date, operation, storage_class, sum(billable_count) AS billable_count,
                 sum(bytes_sent) AS bytes_sent, sum(restored_bytes) AS restored_bytes,
                 sum(coalesce(cdn_origin_bytes, 0)) AS cdn_origin_bytes
          FROM {requests} WHERE list_contains(CAST($days AS DATE[]), usage_date) GROUP BY ALL)
), quantities(usage_date, kind, sc, amount, per_gib, per_hour) AS (
    SELECT usage_date, 'storage', sc, byte_hours, true, true FROM s
    UNION ALL SELECT usage_date, 'overhead_class', sc, objects * 24 * 32768, true, true FROM s
    UNION ALL SELECT usage_date, 'overhead_standard', sc, objects * 24 * 8192, true, true FROM s
    UNION ALL SELECT usage_date, 'monitoring', sc, large_objects * 24, false, true FROM s
    UNION ALL SELECT usage_date, tier, CASE WHEN tier = 'lifecycle' THEN transition_to ELSE sc END,
                     billable_count, false, false FROM r
    UNION ALL SELECT usage_date, 'retrieval_get', sc, bytes_sent, true, false FROM r WHERE tier = 'tier2'
    UNION ALL SELECT usage_date, 'retrieval_restore', sc, restored_bytes, true, false FROM r
    UNION ALL SELECT usage_date, 'transfer_out', '*', bytes_sent - cdn_origin_bytes, true, false FROM r  -- not CloudFront's
), summed AS (
    SELECT usage_date, kind, sc, CAST(sum(CAST(amount AS HUGEINT)) AS DOUBLE) AS amount,
           bool_or(per_gib) AS per_gib, bool_or(per_hour) AS per_hour
    FROM quantities GROUP BY ALL
), priced AS (
    SELECT q.usage_date, p.*,
           q.amount / CASE WHEN q.per_gib THEN {gib} ELSE 1.0 END / CASE WHEN q.per_hour THEN p.hours ELSE 1.0 END
               AS quantity
    FROM summed q JOIN {prices} p ON p.usage_date = q.usage_date AND p.kind = q.kind AND p.storage_class = q.sc
)
SELECT CAST(usage_date AS TIMESTAMP) AS usage_start, CAST(usage_date AS TIMESTAMP) + INTERVAL 1 DAY AS usage_end,
       strftime(usage_date, '%Y-%m') AS billing_period, 'Usage' AS line_item_type,
       product_code, usage_type, operation, CAST(NULL AS VARCHAR) AS resource_id,
       quantity AS usage_amount,
       CAST(round(quantity * unit_price, 6) AS DECIMAL(18, 6)) AS unblended_cost, pricing_unit
FROM priced
WHERE quantity > 0
ORDER BY usage_start, usage_type, operation
"""

# Σ byte-hours per day and class, exact (the tiered STANDARD and Intelligent-Tiering rates depend on it).
CLASS_BYTE_HOURS_SQL = """
SELECT usage_date, upper(trim(storage_class)) AS sc, CAST(sum(CAST(byte_hours AS HUGEINT)) AS DOUBLE)
FROM {storage}
WHERE list_contains(CAST($days AS DATE[]), usage_date) AND upper(trim(storage_class)) IN ('STANDARD', 'INTELLIGENT_TIERING')
GROUP BY ALL
"""


def _class_gb(
    con: duckdb.DuckDBPyConnection, storage: str, days: list[date]
) -> dict[tuple[date, str], float]:
    """GB stored per (day, class) for the tiered classes: Σ byte-hours / 24 / 2^30."""
    rows = con.execute(CLASS_BYTE_HOURS_SQL.format(storage=storage), {"days": days}).fetchall()
    return {(day, sc): byte_hours / 24 / GIB for day, sc, byte_hours in rows}


def _day_prices(book: PriceBook, provider: str, days: list[date], class_gb) -> list[tuple]:
    """(day, hours, price row) for every day: AWS's tiered rates depend on the day's size and its month's
    hours; R2's prices are the same every day and its GB-month is 30 days."""
    out = []
    r2 = r2_prices(book) if provider == R2 else []
    for day in days:
        if provider == AWS:
            standard = class_gb.get((day, "STANDARD"), 0.0)
            prices = aws_prices(book, standard, class_gb.get((day, "INTELLIGENT_TIERING"), 0.0))
            hours = hours_in_month(day)
        else:
            prices, hours = r2, 30 * 24
        out.extend((day, float(hours), *astuple(p)) for p in prices)
    return out


def estimate_days(
    con: duckdb.DuckDBPyConnection,
    days: list[date],
    storage: str,
    requests: str,
    provider: str,
    out: str,
    price_book: PriceBook | None = None,
) -> dict[date, EstimateSummary]:
    """Write TEMP table ``out`` with CUR-shaped estimated line items for each of ``days`` (any days, not
    necessarily consecutive; same columns as ``raw.cost_line_items``; ``line_item_type = 'Usage'``,
    ``unblended_cost`` DECIMAL(18,6) rounded to the micro-dollar per line), each day priced as if alone.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
    book = price_book or PriceBook.load()
    days = sorted(days)
    class_gb = _class_gb(con, storage, days) if provider == AWS and days else {}
    columns = list(zip(*_day_prices(book, provider, days, class_gb), strict=True)) or [[]] * 9
    try:
        # one statement for every day's price rows: the columns as lists, zipped back by unnest
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_PRICES} AS SELECT "
            "unnest(CAST($d AS DATE[])) AS usage_date, unnest(CAST($h AS DOUBLE[])) AS hours, "
            "unnest(CAST($k AS VARCHAR[])) AS kind, unnest(CAST($c AS VARCHAR[])) AS storage_class, "
            "unnest(CAST($u AS VARCHAR[])) AS usage_type, unnest(CAST($p AS VARCHAR[])) AS product_code, "
            "unnest(CAST($o AS VARCHAR[])) AS operation, unnest(CAST($n AS VARCHAR[])) AS pricing_unit, "
            "unnest(CAST($r AS DOUBLE[])) AS unit_price",
            dict(zip("dhkcupon" + "r", map(list, columns), strict=True)),
        )
        sql = QUANTITIES_SQL.format(
            out=out,
            storage=storage,
            requests=requests,
            prices=_PRICES,
            gib=float(GIB),
            tier=request_tier_sql("operation"),
            request_class=REQUEST_CLASS_SQL,
            storage_classes=", ".join(f"'{c}'" for c in CLASS_NAMES),
        )
        con.execute(sql, {"days": days})
        totals = con.execute(
            f"SELECT CAST(usage_start AS DATE), count(*), sum(unblended_cost) FROM {out} GROUP BY ALL"
        ).fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_PRICES}")
    found = {day: (int(count), Decimal(total)) for day, count, total in totals}
    return {
        day: EstimateSummary(day, provider, *found.get(day, (0, Decimal("0.000000"))), book.about)
        for day in days
    }


def estimate_line_items(
    con: duckdb.DuckDBPyConnection,
    day: date,
    storage: str,
    requests: str,
    provider: str,
    out: str,
    price_book: PriceBook | None = None,
) -> EstimateSummary:
    """:func:`estimate_days` for the one day ``day``."""
    return estimate_days(con, [day], storage, requests, provider, out, price_book)[day]
