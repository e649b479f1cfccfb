"""Estimate a day's CloudFront bill from the logged CDN usage, before the cost export covers that day.

Why: as for S3 (``bucketlens.costing.estimate``), the export lags by a day or more; the estimate is
written as CUR-shaped ``AmazonCloudFront`` line items with AWS's usage types (``US-DataTransfer-Out-Bytes``,
``EU-Requests-Tier1``, ``JP-Requests-Tier2-HTTPS``) so the same classifier and split attribute them.

Rules and simplifications (documented, deliberate): bytes sent to viewers (sc-bytes, GB = 2^30 bytes)
at the first tier of the edge region's data-transfer price, HTTP and HTTPS requests at the region's price
per 10,000 (``price_book.json`` ``aws_cloudfront``). The always-free tier (1 TB and 10 M requests a month)
and the volume tiers are ignored, so this over-estimates like the S3 estimate. Usage logged under an edge
region the price book does not list ('unknown') is priced at the US rates and emitted without a region
prefix, so it is split over the day's CDN usage of every region. Invalidations, origin shield and edge
functions are not in the standard logs and are not estimated.
"""

from __future__ import annotations

from datetime import date

import duckdb

from bucketlens.costing.price_book import PriceBook, PriceBookError

SECTION = "aws_cloudfront"
PRODUCT = "AmazonCloudFront"
FALLBACK_REGION = "US"

ESTIMATE_SQL = """
INSERT INTO {out}
WITH prices AS (
    SELECT unnest(CAST($regions AS VARCHAR[])) AS region, unnest(CAST($gb AS DOUBLE[])) AS gb,
           unnest(CAST($http AS DOUBLE[])) AS http, unnest(CAST($https AS DOUBLE[])) AS https
), usage AS (
    SELECT c.usage_date, CASE WHEN p.region IS NULL THEN '' ELSE p.region || '-' END AS prefix,
           coalesce(p.region, '{fallback}') AS price_region,
           sum(CAST(c.bytes_sent AS HUGEINT)) AS bytes, sum(c.http_requests) AS http, sum(c.https_requests) AS https
    FROM {cdn} c LEFT JOIN prices p ON p.region = c.edge_region
    WHERE list_contains(CAST($days AS DATE[]), c.usage_date)
    GROUP BY ALL
), quantities(usage_date, usage_type, pricing_unit, amount, price) AS (
    SELECT u.usage_date, u.prefix || 'DataTransfer-Out-Bytes', 'GB', CAST(u.bytes AS DOUBLE) / {gib}, p.gb
    FROM usage u JOIN prices p ON p.region = u.price_region
    UNION ALL
    SELECT u.usage_date, u.prefix || 'Requests-Tier1', 'Requests', u.http, p.http / 10000
    FROM usage u JOIN prices p ON p.region = u.price_region
    UNION ALL
    SELECT u.usage_date, u.prefix || 'Requests-Tier2-HTTPS', 'Requests', u.https, p.https / 10000
    FROM usage u JOIN prices p ON p.region = u.price_region
), summed AS (
    SELECT usage_date, usage_type, pricing_unit, sum(amount) AS amount, any_value(price) AS price
    FROM quantities GROUP BY ALL
)
SELECT CAST(usage_date AS TIMESTAMP) AS usage_start, CAST(usage_date AS TIMESTAMP) + INTERVAL 1 DAY AS usage_end,
       strftime(usage_date, '%Y-%m') AS billing_period, 'Usage' AS line_item_type, '{product}' AS product_code,
       usage_type, 'GET' AS operation, CAST(NULL AS VARCHAR) AS resource_id, amount AS usage_amount,
       CAST(round(amount * price, 6) AS DECIMAL(18, 6)) AS unblended_cost, pricing_unit
FROM summed WHERE amount > 0
ORDER BY usage_start, usage_type
"""


def _first_tier(book: PriceBook, tiers, region: str) -> float:
    try:
        price = tiers[0]["price"]
    except (IndexError, KeyError, TypeError):
        price = None
    if isinstance(price, bool) or not isinstance(price, int | float) or price < 0:
        raise PriceBookError(
            f"price book {book.source}: {SECTION}.data_transfer_out_per_gb.{region} needs a first tier price"
        )
    return float(price)


def first_tier_prices(book: PriceBook) -> tuple[list[str], list[float], list[float], list[float]]:
    """Per edge region of the price book: the first data-transfer tier's price per GB and the HTTP and
    HTTPS prices per 10,000 requests."""
    transfer = book.value(f"{SECTION}.data_transfer_out_per_gb")
    regions = sorted(transfer)
    gb = [_first_tier(book, transfer[r], r) for r in regions]
    http = [book.number(f"{SECTION}.requests_per_10000.{r}.http") for r in regions]
    https = [book.number(f"{SECTION}.requests_per_10000.{r}.https") for r in regions]
    return regions, gb, http, https


def estimate_cdn_days(
    con: duckdb.DuckDBPyConnection, days: list[date], cdn: str, out: str, price_book: PriceBook | None = None
) -> None:
    """Append to ``out`` (CUR-shaped, as ``estimate.estimate_days`` writes it) the CloudFront line items
    of ``days`` estimated from the per-user CDN table ``cdn`` (usage.user_daily_cdn's shape)."""
    book = price_book or PriceBook.load()
    regions, gb, http, https = first_tier_prices(book)
    sql = ESTIMATE_SQL.format(out=out, cdn=cdn, gib=float(2**30), product=PRODUCT, fallback=FALLBACK_REGION)
    con.execute(sql, {"days": sorted(days), "regions": regions, "gb": gb, "http": http, "https": https})
