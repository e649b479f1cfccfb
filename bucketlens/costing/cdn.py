"""The CloudFront part of the cost split: each user's CDN usage as weights of the CloudFront line items.

Why a module of its own: the S3 split (``allocation``) knows storage classes and request tiers; CloudFront
bills per *edge region* (``US-DataTransfer-Out-Bytes``, ``EU-Requests-Tier2-HTTPS``), so its line items
are keyed by the region of their usage type and weighed by the bytes and requests that ``usage.user_daily_cdn``
logged in that region:

* ``cdn_bytes``: data transfer out to viewers, by bytes sent (sc-bytes) in the same region;
* ``cdn_http_requests`` / ``cdn_https_requests``: ``Requests-Tier1`` (HTTP) / ``Requests-Tier2-HTTPS``,
  by requests of that protocol in the same region;
* ``cdn_requests`` (FOCUS rows without a usage type) and ``cdn_origin_fetches`` (origin shield, edge to
  origin bytes): by all requests / origin fetches of the day, every region;
* ``cdn_origin_bytes``: S3's own ``CloudFront-Out-Bytes`` (S3 → CloudFront, the origin fetches, which
  are not egress to the internet): by the bytes of each user's cache misses.

A region with billed usage but no logged usage (logs are best-effort, or a region only CloudWatch saw)
has no weight: its line items go whole to ``_shared`` like any unexplained line — never lost. Usage
logged under edge region 'unknown' only weighs region-less items.
"""

from __future__ import annotations

from bucketlens.costing.usage_types import (
    CDN,
    CDN_BYTES,
    CDN_HTTP,
    CDN_HTTPS,
    CDN_ORIGIN_BYTES,
    CDN_ORIGIN_FETCHES,
    CDN_REQUESTS,
    EDGE_REGION,
)

# (driver, column of usage.user_daily_cdn)
MEASURES = (
    (CDN_BYTES, "bytes_sent"),
    (CDN_HTTP, "http_requests"),
    (CDN_HTTPS, "https_requests"),
    (CDN_REQUESTS, "requests"),
    (CDN_ORIGIN_FETCHES, "origin_fetches"),
    (CDN_ORIGIN_BYTES, "miss_bytes"),
)

# The weight key of a line item: its edge region for CloudFront's per-region rules ('*' when the usage
# type has no region prefix), its storage class otherwise. {usage_type}, {storage_class}: columns.
WEIGHT_KEY_SQL = """CASE WHEN {storage_class} = '{region}'
    THEN coalesce(nullif(regexp_extract({usage_type}, '^([A-Z]{{2}})-', 1), ''), '*')
    ELSE {storage_class} END"""


def weight_key_sql(usage_type: str, storage_class: str) -> str:
    return WEIGHT_KEY_SQL.format(usage_type=usage_type, storage_class=storage_class, region=EDGE_REGION)


def measures_sql(cdn: str | None) -> str:
    """``UNION ALL`` branches of ``allocation.WEIGHTS_SQL``'s measures (usage_date, driver, key, user_id,
    w) from the per-user CDN table ``cdn``; nothing without one (CloudFront items then go to _shared)."""
    if not cdn:
        return ""
    return "".join(
        f"\n    UNION ALL\n    SELECT usage_date, '{driver}', edge_region, user_id, {column} FROM {cdn} "
        "WHERE usage_date BETWEEN $start AND $end"
        for driver, column in MEASURES
    )


def output_storage_class_sql(category: str, storage_class: str) -> str:
    """CDN rows carry no storage class (the region is in their usage type)."""
    return f"CASE WHEN {category} = '{CDN}' THEN NULL ELSE {storage_class} END"
