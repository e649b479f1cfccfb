"""S3 us-east-1 list prices used to price the synthetic cost export.

Copied from the price book in bucketlens/costing/price_book.json (AWS list prices mirrored by guides dated
2026-03..2026-06, unchanged since 2023), except ``INVENTORY_PER_OBJECT`` (S3 Inventory, $0.0025 per
million objects listed), which the price book does not carry. Storage uses the first (<= 50 TB) tier:
the synthetic buckets stay far below it.
"""

from __future__ import annotations

GIB = 1024**3
STORAGE_PER_GB_MONTH = {
    "STANDARD": 0.023,
    "INTELLIGENT_TIERING": 0.023,
    "STANDARD_IA": 0.0125,
    "GLACIER_IR": 0.004,
    "GLACIER": 0.0036,
    "DEEP_ARCHIVE": 0.00099,
}
TIER1_PER_REQUEST = 0.005 / 1000
TIER2_PER_REQUEST = 0.0004 / 1000
TRANSITION_PER_REQUEST = {
    "STANDARD_IA": 0.01 / 1000,
    "GLACIER_IR": 0.02 / 1000,
    "GLACIER": 0.03 / 1000,
    "DEEP_ARCHIVE": 0.05 / 1000,
}
DEEP_ARCHIVE_RESTORE_STANDARD_PER_REQUEST = 0.10 / 1000
RETRIEVAL_PER_GB = {"STANDARD_IA": 0.01, "GLACIER_IR": 0.03, "DEEP_ARCHIVE_STANDARD": 0.02}
EGRESS_FREE_GB_PER_MONTH = 100
EGRESS_PER_GB = 0.09
INVENTORY_PER_OBJECT = 0.0025 / 1_000_000


def rate_text(rate: float) -> str:
    """CUR's ``line_item_unblended_rate`` is a string with ten decimals."""
    return f"{rate:.10f}"


# Amazon CloudFront on-demand list prices, first 10 TB / month tier, by the price region that prefixes
# the usage type (aws.amazon.com/cloudfront/pricing, stored 2026: US/Mexico/Canada and Europe/Israel
# $0.085, South Africa/Kenya/Nigeria/Middle East and South America $0.110, Japan and Australia/New
# Zealand $0.114, Asia Pacific $0.120, India $0.109 per GB). Request prices per 10,000 (HTTP, HTTPS)
# are from the same page as recalled, not re-read from a stored copy: re-check before billing use.
# The always-free tier (1 TB, 10 M requests a month) is not applied: the synthetic account bills from
# the first byte, so every log byte maps to a billed amount.
CLOUDFRONT_PER_GB = {
    "US": 0.085, "CA": 0.085, "EU": 0.085, "ZA": 0.110, "ME": 0.110, "SA": 0.110,
    "JP": 0.114, "AU": 0.114, "AP": 0.120, "IN": 0.109,
}  # fmt: skip
CLOUDFRONT_HTTP_PER_10K = {
    "US": 0.0075, "CA": 0.0075, "EU": 0.0090, "ZA": 0.0090, "ME": 0.0090, "SA": 0.0160,
    "JP": 0.0090, "AU": 0.0090, "AP": 0.0090, "IN": 0.0090,
}  # fmt: skip
CLOUDFRONT_HTTPS_PER_10K = {
    "US": 0.0100, "CA": 0.0100, "EU": 0.0120, "ZA": 0.0120, "ME": 0.0120, "SA": 0.0220,
    "JP": 0.0120, "AU": 0.0125, "AP": 0.0120, "IN": 0.0120,
}  # fmt: skip
