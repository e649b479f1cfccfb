import pytest

from bucketlens.costing.usage_types import Classification, classify, classify_sql, strip_region
from tests.costing.tables import connect
from tests.rows import insert_rows

S, R, T, RET, OTHER = "storage", "requests", "transfer", "retrieval", "other"

# (product code, usage type without region prefix, expected)
USAGE_TYPES = [
    ("AmazonS3", "TimedStorage-ByteHrs", (S, "byte_hours", "STANDARD")),
    ("AmazonS3", "TimedStorage-INT-FA-ByteHrs", (S, "byte_hours", "INTELLIGENT_TIERING")),
    ("AmazonS3", "TimedStorage-INT-IA-ByteHrs", (S, "byte_hours", "INTELLIGENT_TIERING")),
    ("AmazonS3", "TimedStorage-INT-AIA-ByteHrs", (S, "byte_hours", "INTELLIGENT_TIERING")),
    ("AmazonS3", "TimedStorage-INT-AA-ByteHrs", (S, "byte_hours", "INTELLIGENT_TIERING")),
    ("AmazonS3", "TimedStorage-INT-DAA-ByteHrs", (S, "byte_hours", "INTELLIGENT_TIERING")),
    ("AmazonS3", "TimedStorage-SIA-ByteHrs", (S, "byte_hours", "STANDARD_IA")),
    ("AmazonS3", "TimedStorage-ZIA-ByteHrs", (S, "byte_hours", "ONEZONE_IA")),
    ("AmazonS3", "TimedStorage-GIR-ByteHrs", (S, "byte_hours", "GLACIER_IR")),
    ("AmazonS3", "TimedStorage-GlacierByteHrs", (S, "byte_hours", "GLACIER")),
    ("AmazonS3GlacierDeepArchive", "TimedStorage-GDA-ByteHrs", (S, "byte_hours", "DEEP_ARCHIVE")),
    ("AmazonS3", "TimedStorage-RRS-ByteHrs", (S, "byte_hours", "REDUCED_REDUNDANCY")),
    ("AmazonS3", "TimedStorage-GlacierStaging", (S, "archive_objects", "GLACIER")),
    ("AmazonS3GlacierDeepArchive", "TimedStorage-GDA-Staging", (S, "archive_objects", "DEEP_ARCHIVE")),
    ("AmazonS3", "TimedStorage-SIA-SmObjects", (S, "archive_objects", "STANDARD_IA")),
    ("AmazonS3", "TimedStorage-ZIA-SmObjects", (S, "archive_objects", "ONEZONE_IA")),
    ("AmazonS3", "TimedStorage-GIR-SmObjects", (S, "archive_objects", "GLACIER_IR")),
    ("AmazonS3", "EarlyDelete-SIA", (S, "early_delete", "STANDARD_IA")),
    ("AmazonS3", "EarlyDelete-SIA-SmObjects", (S, "early_delete", "STANDARD_IA")),
    ("AmazonS3", "EarlyDelete-ZIA", (S, "early_delete", "ONEZONE_IA")),
    ("AmazonS3", "EarlyDelete-GIR", (S, "early_delete", "GLACIER_IR")),
    ("AmazonS3", "EarlyDelete-ByteHrs", (S, "early_delete", "GLACIER")),
    ("AmazonS3GlacierDeepArchive", "EarlyDelete-GDA", (S, "early_delete", "DEEP_ARCHIVE")),
    ("AmazonS3", "Requests-Tier1", (R, "tier1", "STANDARD")),
    ("AmazonS3", "Requests-Tier2", (R, "tier2", "STANDARD")),
    ("AmazonS3", "Requests-INT-Tier1", (R, "tier1", "INTELLIGENT_TIERING")),
    ("AmazonS3", "Requests-INT-Tier2", (R, "tier2", "INTELLIGENT_TIERING")),
    ("AmazonS3", "Requests-SIA-Tier1", (R, "tier1", "STANDARD_IA")),
    ("AmazonS3", "Requests-SIA-Tier2", (R, "tier2", "STANDARD_IA")),
    ("AmazonS3", "Requests-ZIA-Tier1", (R, "tier1", "ONEZONE_IA")),
    ("AmazonS3", "Requests-ZIA-Tier2", (R, "tier2", "ONEZONE_IA")),
    ("AmazonS3", "Requests-GIR-Tier1", (R, "tier1", "GLACIER_IR")),
    ("AmazonS3", "Requests-GIR-Tier2", (R, "tier2", "GLACIER_IR")),
    ("AmazonS3", "Requests-GLACIER-Tier1", (R, "tier1", "GLACIER")),
    ("AmazonS3", "Requests-GLACIER-Tier2", (R, "tier2", "GLACIER")),
    ("AmazonS3GlacierDeepArchive", "Requests-GDA-Tier1", (R, "tier1", "DEEP_ARCHIVE")),
    ("AmazonS3GlacierDeepArchive", "Requests-GDA-Tier2", (R, "tier2", "DEEP_ARCHIVE")),
    ("AmazonS3GlacierDeepArchive", "Requests-GDA-Tier3", (R, "restore", "DEEP_ARCHIVE")),
    ("AmazonS3GlacierDeepArchive", "Requests-GDA-Tier5", (R, "restore", "DEEP_ARCHIVE")),
    ("AmazonS3", "Requests-Tier3", (R, "restore", "GLACIER")),
    ("AmazonS3", "Requests-Tier5", (R, "restore", "GLACIER")),
    ("AmazonS3", "Requests-Tier6", (R, "restore", "GLACIER")),
    ("AmazonS3", "Requests-Tier4", (R, "lifecycle", None)),
    ("AmazonS3", "Retrieval-SIA", (RET, "retrieval_bytes", "STANDARD_IA")),
    ("AmazonS3", "Retrieval-ZIA", (RET, "retrieval_bytes", "ONEZONE_IA")),
    ("AmazonS3", "Retrieval-GIR", (RET, "retrieval_bytes", "GLACIER_IR")),
    ("AmazonS3", "Standard-Retrieval-Bytes", (RET, "retrieval_bytes", "GLACIER")),
    ("AmazonS3", "Bulk-Retrieval-Bytes", (RET, "retrieval_bytes", "GLACIER")),
    ("AmazonS3", "Expedited-Retrieval-Bytes", (RET, "retrieval_bytes", "GLACIER")),
    ("AmazonS3GlacierDeepArchive", "Standard-Retrieval-Bytes", (RET, "retrieval_bytes", "DEEP_ARCHIVE")),
    ("AmazonS3GlacierDeepArchive", "Bulk-Retrieval-Bytes", (RET, "retrieval_bytes", "DEEP_ARCHIVE")),
    ("AmazonS3", "DataTransfer-Out-Bytes", (T, "transfer_out_bytes", None)),
    ("AmazonS3", "DataTransfer-Regional-Bytes", (T, "transfer_out_bytes", None)),
    ("AmazonS3", "USW2-AWS-Out-Bytes", (T, "transfer_out_bytes", None)),
    ("AmazonS3", "CloudFront-Out-Bytes", ("cdn", "cdn_origin_bytes", None)),  # origin fetches: not egress
    ("AmazonS3", "DataTransfer-In-Bytes", (T, "transfer_in_bytes", None)),
    ("AmazonS3", "Inventory-ObjectsListed", (OTHER, "shared", None)),
    ("AmazonS3", "Monitoring-Automation-INT", (OTHER, "shared", None)),
    ("AmazonS3", "TagStorage-TagHrs", (OTHER, "shared", None)),
    ("AmazonS3", "StorageAnalytics-ObjCount", (OTHER, "shared", None)),
    ("AmazonS3", "BatchOperations-Jobs", (OTHER, "shared", None)),
    ("AmazonS3", "S3-Batch-Objects", (OTHER, "shared", None)),
    ("AmazonS3", "StorageLens-ObjCount", (OTHER, "shared", None)),
    ("AmazonS3", "Totally-New-Thing", (OTHER, "unknown", None)),
]

PREFIXES = ["", "USE1-", "USE2-", "EU-", "USW2-", "APN1-", "EUC1-", "CAN1-"]


@pytest.mark.parametrize(("product", "usage_type", "expected"), USAGE_TYPES)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_classify_with_and_without_region_prefix(product, usage_type, expected, prefix):
    assert classify(product, prefix + usage_type, "Usage") == Classification(*expected)


def test_classify_sql_agrees_with_python_twin():
    cases = [(p, prefix + ut, "Usage", None, None) for p, ut, _ in USAGE_TYPES for prefix in PREFIXES]
    cases += [
        ("AmazonS3", "USE1-TimedStorage-ByteHrs", "Tax", None, None),
        ("AmazonS3", None, "Credit", None, None),
        ("AmazonS3", "Requests-Tier1", "DiscountedUsage", "PutObject", "Requests"),
        ("AmazonS3", None, "Usage", "StandardStorage", "GB-Mo"),
        ("AmazonS3", None, "Usage", "DeepArchiveStorage", "GB-Mo"),
        ("AmazonS3", None, "Usage", "PutObject", "Requests"),
        ("AmazonS3", None, "Usage", "GetObject", "Requests"),
        ("AmazonS3", None, "Usage", "GetObject", "GB"),
        ("AmazonS3", None, "Usage", "Mystery", "Widgets"),
        ("AmazonS3", "", "Usage", None, None),
    ]
    con = connect()
    con.execute("CREATE TABLE li (p VARCHAR, u VARCHAR, t VARCHAR, o VARCHAR, n VARCHAR)")
    insert_rows(con, "INSERT INTO li VALUES (?, ?, ?, ?, ?)", cases)
    rows = con.execute(
        f"SELECT p, u, t, o, n, {classify_sql('p', 'u', 't', 'o', 'n')} AS c FROM li"
    ).fetchall()
    assert len(rows) == len(cases)
    for p, u, t, o, n, c in rows:
        assert Classification(c["category"], c["driver"], c["storage_class"]) == classify(p, u, t, o, n), (
            p,
            u,
            t,
            o,
            n,
        )


def test_region_prefix_stripping_is_one_prefix_only_and_case_sensitive():
    assert strip_region("USE1-TimedStorage-ByteHrs") == "TimedStorage-ByteHrs"
    assert strip_region("USE1-USW2-AWS-Out-Bytes") == "USW2-AWS-Out-Bytes"
    assert strip_region("S3-Batch-Objects") == "S3-Batch-Objects"  # 'S3' is not a region code
    assert strip_region("EarlyDelete-SIA") == "EarlyDelete-SIA"


def test_deep_archive_product_code_decides_retrieval_class():
    assert (
        classify("AmazonS3GlacierDeepArchive", "USE1-Standard-Retrieval-Bytes").storage_class
        == "DEEP_ARCHIVE"
    )
    assert classify("AmazonS3", "USE1-Standard-Retrieval-Bytes").storage_class == "GLACIER"
    # storage usage types carry their class themselves, whatever the product code
    assert classify("AmazonS3GlacierDeepArchive", "TimedStorage-GDA-ByteHrs").storage_class == "DEEP_ARCHIVE"
    assert classify("AmazonS3", "TimedStorage-GDA-ByteHrs").storage_class == "DEEP_ARCHIVE"


@pytest.mark.parametrize(
    "line_item_type",
    ["Tax", "Credit", "Refund", "BundledDiscount", "Discount", "EdpDiscount", "PrivateRateDiscount"],
)
def test_adjustments_whatever_the_usage_type(line_item_type):
    for usage_type in ("USE1-TimedStorage-ByteHrs", None, "", "Anything"):
        assert classify("AmazonS3", usage_type, line_item_type) == Classification(
            "adjustment", "adjustment", None
        )


@pytest.mark.parametrize(
    ("operation", "unit", "expected"),
    [
        ("StandardStorage", "GB-Mo", (S, "byte_hours", "STANDARD")),
        ("StandardIAStorage", "GB-Mo", (S, "byte_hours", "STANDARD_IA")),
        ("OneZoneIAStorage", "GB-Mo", (S, "byte_hours", "ONEZONE_IA")),
        ("GlacierInstantRetrievalStorage", "GB-Mo", (S, "byte_hours", "GLACIER_IR")),
        ("GlacierStorage", "ByteHrs", (S, "byte_hours", "GLACIER")),
        ("DeepArchiveStorage", "GB-Mo", (S, "byte_hours", "DEEP_ARCHIVE")),
        ("IntelligentTieringFAStorage", "GB-Month", (S, "byte_hours", "INTELLIGENT_TIERING")),
        ("PutObject", "Requests", (R, "tier1", "STANDARD")),
        ("ListBucket", "Requests", (R, "tier1", "STANDARD")),
        ("CompleteMultipartUpload", "Requests", (R, "tier1", "STANDARD")),
        ("GetObject", "Requests", (R, "tier2", "STANDARD")),
        ("HeadObject", "Requests", (R, "tier2", "STANDARD")),
        ("GetObject", "GB", (T, "transfer_out_bytes", None)),
        ("Mystery", "Widgets", (OTHER, "unknown", None)),
        ("Mystery", None, (OTHER, "unknown", None)),
    ],
)
def test_focus_fallback_without_usage_type(operation, unit, expected):
    assert classify("AmazonS3", None, "Usage", operation, unit) == Classification(*expected)


# CloudFront (issue 20): (usage type as billed, expected); region prefixes are CloudFront's edge regions
CLOUDFRONT = [
    ("US-DataTransfer-Out-Bytes", ("cdn", "cdn_bytes", "@region")),
    ("EU-DataTransfer-Out-Bytes", ("cdn", "cdn_bytes", "@region")),
    ("JP-Requests-Tier1", ("cdn", "cdn_http_requests", "@region")),
    ("AP-Requests-Tier2-HTTPS", ("cdn", "cdn_https_requests", "@region")),
    ("US-Requests-HTTP-Proxy", ("cdn", "cdn_http_requests", "@region")),
    ("SA-Requests-HTTPS-Proxy", ("cdn", "cdn_https_requests", "@region")),
    ("US-Requests-OriginShield", ("cdn", "cdn_origin_fetches", None)),
    ("EU-DataTransfer-Out-OBytes", ("cdn", "cdn_origin_fetches", None)),
    ("Invalidations", ("cdn", "shared", None)),
    ("US-Executions-Mystery", ("cdn", "unknown", None)),
]


@pytest.mark.parametrize(("usage_type", "expected"), CLOUDFRONT)
@pytest.mark.parametrize("product", ["AmazonCloudFront", "Amazon CloudFront"])
def test_cloudfront_usage_types_are_not_s3s(usage_type, expected, product):
    assert classify(product, usage_type) == Classification(*expected)
    # the same usage type under S3's product code is S3's (US-Requests-Tier1 is an S3 request fee too)
    assert classify("AmazonS3", usage_type).category != "cdn"


def test_cloudfront_focus_rows_and_sql_twin():
    assert classify("AmazonCloudFront", None, "Usage", "GET", "GB") == Classification(
        "cdn", "cdn_bytes", None
    )
    assert classify("AmazonCloudFront", None, "Usage", "GET", "Requests") == Classification(
        "cdn", "cdn_requests", None
    )
    cases = [(p, u, "Usage", None, None) for u, _ in CLOUDFRONT for p in ("AmazonCloudFront", "AmazonS3")]
    cases += [
        ("AmazonCloudFront", None, "Usage", "GET", "GB"),
        ("AmazonCloudFront", "", "Usage", "x", "Requests"),
    ]
    con = connect()
    con.execute("CREATE TABLE li (p VARCHAR, u VARCHAR, t VARCHAR, o VARCHAR, n VARCHAR)")
    insert_rows(con, "INSERT INTO li VALUES (?, ?, ?, ?, ?)", cases)
    sql = f"SELECT p, u, t, o, n, {classify_sql('p', 'u', 't', 'o', 'n')} FROM li"
    for p, u, t, o, n, c in con.execute(sql).fetchall():
        assert Classification(c["category"], c["driver"], c["storage_class"]) == classify(p, u, t, o, n)
