"""What each S3 cost line item pays for, so its cost can be split by the matching usage of each user.

Why: a bill line says ``USE1-TimedStorage-GDA-ByteHrs``, not "Deep Archive storage for user 1002". Each
line item is classified into a *category* (the column users see: ``storage | requests | transfer |
retrieval | adjustment | other``), a *driver* (which usage measure splits it: byte-hours, request counts of
a tier, bytes sent, …) and the *storage class* whose usage counts (NULL = all classes). Anything we do not
recognise is ``unknown`` and goes to ``_shared`` — visible and reported, never dropped — so the bill still
reconciles and the gap can be fixed by adding a rule here.

Usage types may carry a region prefix (``USE1-``, ``EU-``, ``USW2-``, ``APN1-``; none in us-east-1); it is
stripped with ``^[A-Z]{2,4}[0-9]?-`` before matching, so a prefixed type classifies like the bare one.
Deep Archive storage bills under product code ``AmazonS3GlacierDeepArchive``; the product code only matters
for ``{Standard,Bulk,Expedited}-Retrieval-Bytes``, which exist for both Glacier Flexible Retrieval and Deep
Archive. FOCUS exports have no usage type: those rows are classified by operation and pricing unit.

The rules are one ordered table (``USAGE_TYPE_RULES`` / ``FOCUS_RULES``) that generates both the DuckDB
expression and the Python twin. Sources: shared/formats.md "Cost exports"; AWS's "Understanding your AWS
billing and usage reports for Amazon S3". Assumed, not verified against a real bill: ``TimedStorage-XZ-ByteHrs``
for S3 Express One Zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

STORAGE, REQUESTS, TRANSFER, RETRIEVAL, ADJUSTMENT, OTHER, CDN = (
    "storage",
    "requests",
    "transfer",
    "retrieval",
    "adjustment",
    "other",
    "cdn",
)
CATEGORIES = (STORAGE, REQUESTS, TRANSFER, RETRIEVAL, ADJUSTMENT, OTHER, CDN)

# drivers: which usage measure splits a line item (see allocation.WEIGHTS_SQL)
BYTE_HOURS = "byte_hours"
ARCHIVE_OBJECTS = "archive_objects"
EARLY_DELETE = "early_delete"
TIER1, TIER2, RESTORE, LIFECYCLE = "tier1", "tier2", "restore", "lifecycle"
RETRIEVAL_BYTES = "retrieval_bytes"
TRANSFER_OUT_BYTES = "transfer_out_bytes"
TRANSFER_IN_BYTES = "transfer_in_bytes"
SHARED = "shared"
UNKNOWN = "unknown"
ADJUSTMENT_DRIVER = "adjustment"
# CloudFront (category ``cdn``), split by usage.user_daily_cdn: bytes to viewers, HTTP / HTTPS requests of
# the line item's edge region; all CDN requests or origin fetches of the day for region-less items.
CDN_BYTES, CDN_HTTP, CDN_HTTPS = "cdn_bytes", "cdn_http_requests", "cdn_https_requests"
CDN_REQUESTS, CDN_ORIGIN_FETCHES, CDN_ORIGIN_BYTES = "cdn_requests", "cdn_origin_fetches", "cdn_origin_bytes"
EDGE_REGION = "@region"
"""Storage-class placeholder of CloudFront rules: the split's key is the usage type's edge-region prefix
(``US-``, ``EU-``, …; see ``bucketlens.formats.cloudfront_schema``), not a storage class."""
CLOUDFRONT_PRODUCTS = ("AmazonCloudFront", "Amazon CloudFront")  # CUR product code; FOCUS ServiceName

ADJUSTMENT_LINE_ITEM_TYPES = (
    "Tax",
    "Credit",
    "Refund",
    "BundledDiscount",
    "Discount",
    "EdpDiscount",
    "PrivateRateDiscount",
)
DEEP_ARCHIVE_PRODUCT = "AmazonS3GlacierDeepArchive"
REGION_PREFIX_REGEX = "^[A-Z]{2,4}[0-9]?-"

STD, INT, SIA, ZIA, GIR, GLA, GDA, RRS, XZ = (
    "STANDARD",
    "INTELLIGENT_TIERING",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
    "EXPRESS_ONEZONE",
)


class Classification(NamedTuple):
    category: str
    driver: str
    storage_class: str | None


@dataclass(frozen=True)
class Rule:
    """One classification rule; every given condition must hold (regexes are full matches)."""

    category: str
    driver: str
    storage_class: str | None
    usage_type: str | None = None  # over the usage type with its region prefix stripped
    product: str | None = None  # exact product code
    operation: str | None = None  # FOCUS rows only
    unit: str | None = None  # FOCUS rows only


def _u(
    pattern: str, category: str, driver: str, storage_class: str | None, product: str | None = None
) -> Rule:
    return Rule(category, driver, storage_class, usage_type=pattern, product=product)


def _cloudfront(pattern: str, driver: str, key: str | None) -> tuple[Rule, ...]:
    return tuple(_u(pattern, CDN, driver, key, product=p) for p in CLOUDFRONT_PRODUCTS)


# CloudFront's usage types (region prefix stripped like S3's): data transfer to viewers and requests by
# protocol per edge region; requests CloudFront forwards without caching (``-Proxy``) like the others of
# their protocol; origin shield and edge-to-origin bytes by origin fetches; invalidations are the
# operator's (nobody's usage): _shared; any other CloudFront type is unknown (to _shared, reported).
CLOUDFRONT_RULES: tuple[Rule, ...] = (
    *_cloudfront("DataTransfer-Out-Bytes", CDN_BYTES, EDGE_REGION),
    *_cloudfront("Requests-(Tier1|HTTP-Proxy)", CDN_HTTP, EDGE_REGION),
    *_cloudfront("Requests-(Tier2-HTTPS|HTTPS-Proxy)", CDN_HTTPS, EDGE_REGION),
    *_cloudfront(
        "(Requests-OriginShield|.*OriginShield.*|DataTransfer-Out-OBytes)", CDN_ORIGIN_FETCHES, None
    ),
    *_cloudfront("Invalidations", SHARED, None),
    *_cloudfront(".*", UNKNOWN, None),
)

USAGE_TYPE_RULES: tuple[Rule, ...] = (
    *CLOUDFRONT_RULES,
    # storage by class
    _u("TimedStorage-ByteHrs", STORAGE, BYTE_HOURS, STD),
    _u("TimedStorage-INT-(FA|IA|AIA|AA|DAA)-ByteHrs", STORAGE, BYTE_HOURS, INT),
    _u("TimedStorage-SIA-ByteHrs", STORAGE, BYTE_HOURS, SIA),
    _u("TimedStorage-ZIA-ByteHrs", STORAGE, BYTE_HOURS, ZIA),
    _u("TimedStorage-GIR-ByteHrs", STORAGE, BYTE_HOURS, GIR),
    _u("TimedStorage-GlacierByteHrs", STORAGE, BYTE_HOURS, GLA),
    _u("TimedStorage-GDA-ByteHrs", STORAGE, BYTE_HOURS, GDA),
    _u("TimedStorage-RRS-ByteHrs", STORAGE, BYTE_HOURS, RRS),
    _u("TimedStorage-XZ-ByteHrs", STORAGE, BYTE_HOURS, XZ),
    # per-object archive overhead and small-object minimums
    _u("TimedStorage-GlacierStaging", STORAGE, ARCHIVE_OBJECTS, GLA),
    _u("TimedStorage-GDA-Staging", STORAGE, ARCHIVE_OBJECTS, GDA),
    _u("TimedStorage-SIA-SmObjects", STORAGE, ARCHIVE_OBJECTS, SIA),
    _u("TimedStorage-ZIA-SmObjects", STORAGE, ARCHIVE_OBJECTS, ZIA),
    _u("TimedStorage-GIR-SmObjects", STORAGE, ARCHIVE_OBJECTS, GIR),
    # minimum storage duration charges
    _u("EarlyDelete-SIA.*", STORAGE, EARLY_DELETE, SIA),
    _u("EarlyDelete-ZIA.*", STORAGE, EARLY_DELETE, ZIA),
    _u("EarlyDelete-GIR.*", STORAGE, EARLY_DELETE, GIR),
    _u("EarlyDelete-GDA.*", STORAGE, EARLY_DELETE, GDA),
    _u("EarlyDelete-ByteHrs", STORAGE, EARLY_DELETE, GLA),
    # requests by tier and class
    _u("Requests-Tier1", REQUESTS, TIER1, STD),
    _u("Requests-Tier2", REQUESTS, TIER2, STD),
    _u("Requests-INT-Tier1", REQUESTS, TIER1, INT),
    _u("Requests-INT-Tier2", REQUESTS, TIER2, INT),
    _u("Requests-SIA-Tier1", REQUESTS, TIER1, SIA),
    _u("Requests-SIA-Tier2", REQUESTS, TIER2, SIA),
    _u("Requests-ZIA-Tier1", REQUESTS, TIER1, ZIA),
    _u("Requests-ZIA-Tier2", REQUESTS, TIER2, ZIA),
    _u("Requests-GIR-Tier1", REQUESTS, TIER1, GIR),
    _u("Requests-GIR-Tier2", REQUESTS, TIER2, GIR),
    _u("Requests-GLACIER-Tier1", REQUESTS, TIER1, GLA),
    _u("Requests-GLACIER-Tier2", REQUESTS, TIER2, GLA),
    _u("Requests-GDA-Tier1", REQUESTS, TIER1, GDA),
    _u("Requests-GDA-Tier2", REQUESTS, TIER2, GDA),
    _u("Requests-GDA-Tier(3|5)", REQUESTS, RESTORE, GDA),
    _u("Requests-Tier(3|5|6)", REQUESTS, RESTORE, GLA),
    _u("Requests-Tier4", REQUESTS, LIFECYCLE, None),
    # retrieval
    _u("Retrieval-SIA", RETRIEVAL, RETRIEVAL_BYTES, SIA),
    _u("Retrieval-ZIA", RETRIEVAL, RETRIEVAL_BYTES, ZIA),
    _u("Retrieval-GIR", RETRIEVAL, RETRIEVAL_BYTES, GIR),
    _u(
        "(Standard|Bulk|Expedited)-Retrieval-Bytes",
        RETRIEVAL,
        RETRIEVAL_BYTES,
        GDA,
        product=DEEP_ARCHIVE_PRODUCT,
    ),
    _u("(Standard|Bulk|Expedited)-Retrieval-Bytes", RETRIEVAL, RETRIEVAL_BYTES, GLA),
    # data transfer
    _u("DataTransfer-(Out|Regional)-A?Bytes", TRANSFER, TRANSFER_OUT_BYTES, None),
    _u("([A-Z0-9]+-)?AWS-Out-Bytes", TRANSFER, TRANSFER_OUT_BYTES, None),
    # S3 → CloudFront (origin fetches) is not egress to the internet: split by the users' CDN miss bytes
    _u("CloudFront-Out-Bytes", CDN, CDN_ORIGIN_BYTES, None),
    _u("DataTransfer-In-A?Bytes", TRANSFER, TRANSFER_IN_BYTES, None),
    _u("([A-Z0-9]+-)?AWS-In-Bytes", TRANSFER, TRANSFER_IN_BYTES, None),
    _u("CloudFront-In-Bytes", TRANSFER, TRANSFER_IN_BYTES, None),
    # bucket management features: nobody in particular caused them
    _u("Inventory-ObjectsListed", OTHER, SHARED, None),
    _u("Monitoring-Automation-INT", OTHER, SHARED, None),
    _u("TagStorage-TagHrs", OTHER, SHARED, None),
    _u("StorageAnalytics-.*", OTHER, SHARED, None),
    _u("BatchOperations-.*", OTHER, SHARED, None),
    _u("S3-Batch-.*", OTHER, SHARED, None),
    _u("StorageLens.*", OTHER, SHARED, None),
)

_BYTE_HOUR_UNITS = "(?i)(GB-Mo|GB-Month|GB-Months|ByteHrs|Byte-Hours)"


def _f(unit: str, operation: str | None, category: str, driver: str, storage_class: str | None) -> Rule:
    return Rule(category, driver, storage_class, operation=operation, unit=unit)


# FOCUS rows (no usage type): by pricing unit and operation (CloudWatch-style storage type names)
FOCUS_RULES: tuple[Rule, ...] = (
    # CloudFront without a usage type (no region): bytes by bytes, everything else by requests, all regions
    *(Rule(CDN, CDN_BYTES, None, product=p, unit="(?i)(GB|GiB|Bytes)") for p in CLOUDFRONT_PRODUCTS),
    *(Rule(CDN, CDN_REQUESTS, None, product=p) for p in CLOUDFRONT_PRODUCTS),
    _f(_BYTE_HOUR_UNITS, "(?i).*deeparchive.*", STORAGE, BYTE_HOURS, GDA),
    _f(_BYTE_HOUR_UNITS, "(?i).*(glacierinstant|glacierir).*", STORAGE, BYTE_HOURS, GIR),
    _f(_BYTE_HOUR_UNITS, "(?i).*glacier.*", STORAGE, BYTE_HOURS, GLA),
    _f(_BYTE_HOUR_UNITS, "(?i).*onezone.*", STORAGE, BYTE_HOURS, ZIA),
    _f(_BYTE_HOUR_UNITS, "(?i).*standardia.*", STORAGE, BYTE_HOURS, SIA),
    _f(_BYTE_HOUR_UNITS, "(?i).*(intelligent|inttier).*", STORAGE, BYTE_HOURS, INT),
    _f(_BYTE_HOUR_UNITS, "(?i).*reducedredundancy.*", STORAGE, BYTE_HOURS, RRS),
    _f(_BYTE_HOUR_UNITS, "(?i).*standard.*", STORAGE, BYTE_HOURS, STD),
    _f(
        "(?i)requests?",
        "(?i)(put|copy|post|list|upload|createmultipart|completemultipart|write).*",
        REQUESTS,
        TIER1,
        STD,
    ),
    _f("(?i)requests?", None, REQUESTS, TIER2, STD),
    _f("(?i)(GB|GiB|Bytes)", None, TRANSFER, TRANSFER_OUT_BYTES, None),
)

UNKNOWN_CLASSIFICATION = Classification(OTHER, UNKNOWN, None)
ADJUSTMENT_CLASSIFICATION = Classification(ADJUSTMENT, ADJUSTMENT_DRIVER, None)


def strip_region(usage_type: str) -> str:
    return re.sub(REGION_PREFIX_REGEX, "", usage_type, count=1)


def _matches(pattern: str | None, value: str | None) -> bool:
    return pattern is None or (value is not None and re.fullmatch(pattern, value) is not None)


def classify(
    product_code: str | None,
    usage_type: str | None,
    line_item_type: str | None = "Usage",
    operation: str | None = None,
    pricing_unit: str | None = None,
) -> Classification:
    """Python twin of :func:`classify_sql`."""
    if line_item_type in ADJUSTMENT_LINE_ITEM_TYPES:
        return ADJUSTMENT_CLASSIFICATION
    if usage_type:
        stripped = strip_region(usage_type)
        for rule in USAGE_TYPE_RULES:
            if _matches(rule.usage_type, stripped) and (rule.product is None or rule.product == product_code):
                return Classification(rule.category, rule.driver, rule.storage_class)
        return UNKNOWN_CLASSIFICATION
    for rule in FOCUS_RULES:
        product_ok = rule.product is None or rule.product == product_code
        if product_ok and _matches(rule.unit, pricing_unit) and _matches(rule.operation, operation):
            return Classification(rule.category, rule.driver, rule.storage_class)
    return UNKNOWN_CLASSIFICATION


def _lit(value: str | None) -> str:
    return "NULL::VARCHAR" if value is None else "'" + value.replace("'", "''") + "'"


def _struct(c: Classification) -> str:
    return f"{{'category': {_lit(c.category)}, 'driver': {_lit(c.driver)}, 'storage_class': {_lit(c.storage_class)}}}"


def _rule_condition(rule: Rule, stripped: str, product_col: str, operation_col: str, unit_col: str) -> str:
    conditions = []
    if rule.usage_type is not None:
        conditions.append(f"regexp_full_match({stripped}, {_lit(rule.usage_type)})")
    if rule.product is not None:
        conditions.append(f"{product_col} = {_lit(rule.product)}")
    if rule.unit is not None:
        conditions.append(f"coalesce(regexp_full_match({unit_col}, {_lit(rule.unit)}), false)")
    if rule.operation is not None:
        conditions.append(f"coalesce(regexp_full_match({operation_col}, {_lit(rule.operation)}), false)")
    return " AND ".join(conditions)


def classify_sql(
    product_col: str,
    usage_type_col: str,
    line_item_type_col: str,
    operation_col: str,
    unit_col: str,
) -> str:
    """DuckDB expression of type ``STRUCT(category VARCHAR, driver VARCHAR, storage_class VARCHAR)``."""
    stripped = f"regexp_replace({usage_type_col}, '{REGION_PREFIX_REGEX}', '')"
    adjustment_types = ", ".join(_lit(t) for t in ADJUSTMENT_LINE_ITEM_TYPES)
    has_usage_type = f"coalesce({usage_type_col}, '') <> ''"
    lines = [f"WHEN {line_item_type_col} IN ({adjustment_types}) THEN {_struct(ADJUSTMENT_CLASSIFICATION)}"]
    for rule in USAGE_TYPE_RULES:
        cond = _rule_condition(rule, stripped, product_col, operation_col, unit_col)
        lines.append(
            f"WHEN {has_usage_type} AND {cond} THEN {_struct(Classification(rule.category, rule.driver, rule.storage_class))}"
        )
    lines.append(f"WHEN {has_usage_type} THEN {_struct(UNKNOWN_CLASSIFICATION)}")
    for rule in FOCUS_RULES:
        cond = _rule_condition(rule, stripped, product_col, operation_col, unit_col)
        lines.append(
            f"WHEN {cond} THEN {_struct(Classification(rule.category, rule.driver, rule.storage_class))}"
        )
    body = "\n    ".join(lines)
    return f"(CASE\n    {body}\n    ELSE {_struct(UNKNOWN_CLASSIFICATION)}\nEND)"
