"""Cost attribution: split each day's S3 bill (or its price-book estimate) over the service's users.

The heavy lifting is set-based DuckDB SQL; the Python around it only builds statements and summaries.
"""

from bucketlens.costing.allocation import (
    SHARED_USER,
    AllocationSummary,
    Reconciliation,
    allocate_day,
    reconcile,
    reconciliation_sql,
)
from bucketlens.costing.estimate import EstimateSummary, estimate_line_items
from bucketlens.costing.operations import billable_sql, request_tier, request_tier_sql
from bucketlens.costing.price_book import PriceBook
from bucketlens.costing.usage_types import Classification, classify, classify_sql

__all__ = [
    "SHARED_USER",
    "AllocationSummary",
    "Classification",
    "EstimateSummary",
    "PriceBook",
    "Reconciliation",
    "allocate_day",
    "billable_sql",
    "classify",
    "classify_sql",
    "estimate_line_items",
    "reconcile",
    "reconciliation_sql",
    "request_tier",
    "request_tier_sql",
]
