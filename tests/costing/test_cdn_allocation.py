"""The hand-computed attribution case extended with CloudFront (issue 20): its CDN_DAY's CloudFront line
items and logged CDN usage (``hand_case`` in test_allocation), split by edge region to the micro-dollar."""

from decimal import Decimal

from bucketlens.costing.allocation import allocate_day
from tests.costing.tables import connect, line_item, make_tables, request_row
from tests.costing.test_allocation import CDN_DAY, DAY, hand_case, per_user, rows


def test_hand_computed_cloudfront_day():
    con = connect()
    hand_case(con)
    summary = allocate_day(con, CDN_DAY, "line_items", "storage", "requests", "cost", cdn="cdn")

    # µ$ again. CloudFront line items split by the usage logged in the usage type's edge region:
    # US-DataTransfer-Out-Bytes 340,000 over US bytes 1001:3000, 1002:1000 (W=4000): 255,000 / 85,000
    # EU-DataTransfer-Out-Bytes 100,001: only 1002 sent bytes in EU → 1002: 100,001
    # JP-DataTransfer-Out-Bytes 50,000: nothing logged in JP → _shared (never lost)
    # US-Requests-Tier2-HTTPS 1,000 over US HTTPS requests 1001:8, 1002:5, _shared:1 (W=14):
    #   8000/14 = 571 rem 6; 5000/14 = 357 rem 2; 1000/14 = 71 rem 6 → 1 left → tie at 6 → '1001' < '_shared'
    #   → 572 / 357 / 71
    # US-Requests-Tier1 300 over US HTTP requests: only 1001 (2) → 300; EU-Requests-Tier1 90: 1002 (3) → 90
    # Invalidations 5,000: the operator's, nobody's usage → _shared
    # US-Requests-OriginShield 700 over origin fetches of every region 1001:2, 1002:1, 1003:2 (W=5):
    #   280 / 140 / 280 (1003's usage was logged under edge region 'unknown': it weighs region-less items only)
    # US-Executions-Mystery 10: an unknown CloudFront type → _shared, reported
    # S3's USE1-CloudFront-Out-Bytes 1,500 (origin fetches, not egress) over miss bytes 600/400/500: 600/400/500
    # S3's DataTransfer-Out-Bytes 90,000 over S3 bytes sent: only 1001 (900) → 90,000
    # Usage: 1001 255,000+572+300+280+600+90,000 = 346,752; 1002 85,000+100,001+357+90+140+400 = 185,988
    #        1003 280+500 = 780; _shared 50,000+71+5,000+10 = 55,081; Σ 588,601 = billed usage ✓
    # Tax 1,000 pro rata over usage (W=588,601): 1001 346,752,000/W = 589 rem 66,011;
    #   1002 185,988,000/W = 315 rem 578,685; 1003 780,000/W = 1 rem 191,399; _shared 55,081,000/W = 93 rem 341,107
    #   Σ 998 → 2 left → 1002, _shared: 589 / 316 / 1 / 94
    assert per_user(con) == {
        "1001": Decimal("0.347341"),
        "1002": Decimal("0.186304"),
        "1003": Decimal("0.000781"),
        "_shared": Decimal("0.055175"),
    }
    assert summary.billed_total == summary.allocated_total == Decimal("0.589601")
    assert summary.unknown_usage_types == [("US-Executions-Mystery", Decimal("0.000010"))]
    categories = dict(con.execute("SELECT category, sum(amount_usd) FROM cost GROUP BY 1").fetchall())
    assert categories == {
        "cdn": Decimal("0.498601"),
        "transfer": Decimal("0.090000"),
        "adjustment": Decimal("0.001000"),
    }
    cdn = dict(
        con.execute("SELECT user_id, sum(amount_usd) FROM cost WHERE category = 'cdn' GROUP BY 1").fetchall()
    )
    assert cdn == {"1001": Decimal("0.256752"), "1002": Decimal("0.185988"), "1003": Decimal("0.000780"),
                   "_shared": Decimal("0.055081")}  # fmt: skip
    assert rows(con)[:6] == [
        ("1001", "DataTransfer-Out-Bytes", Decimal("0.090000")),
        ("1001", "Tax", Decimal("0.000589")),
        ("1001", "US-DataTransfer-Out-Bytes", Decimal("0.255000")),
        ("1001", "US-Requests-OriginShield", Decimal("0.000280")),
        ("1001", "US-Requests-Tier1", Decimal("0.000300")),
        ("1001", "US-Requests-Tier2-HTTPS", Decimal("0.000572")),
    ]
    # CDN rows carry no storage class (the region is in the usage type)
    assert con.execute(
        "SELECT count(*) FROM cost WHERE category = 'cdn' AND storage_class IS NOT NULL"
    ).fetchall() == [(0,)]


def test_without_cdn_usage_cloudfront_items_go_to_shared_and_s3_days_are_unchanged():
    con = connect()
    hand_case(con)
    allocate_day(con, DAY, "line_items", "storage", "requests", "with_cdn", cdn="cdn")
    allocate_day(con, DAY, "line_items", "storage", "requests", "without")
    # DAY has CloudFront usage but no CloudFront line items: the S3 split is the same with or without it
    assert rows(con, "with_cdn") == rows(con, "without")
    summary = allocate_day(con, CDN_DAY, "line_items", "storage", "requests", "no_cdn_table")
    assert summary.billed_total == summary.allocated_total
    # every CloudFront item and S3's CloudFront-Out-Bytes have no weight: _shared 498,601; S3 egress 1001's
    # 90,000; tax 1,000 over W=588,601: _shared 498,601,000/W = 847 rem 55,953, 1001 90,000,000/W = 152
    # rem 532,648 → 1 left → 1001: 847 / 153
    assert per_user(con, "no_cdn_table") == {"1001": Decimal("0.090153"), "_shared": Decimal("0.499448")}


def test_bytes_cloudfront_fetched_from_s3_are_not_internet_egress():
    """S3's DataTransfer-Out-Bytes is split by the bytes each user's requests sent to the internet: bytes
    CloudFront fetched from its S3 origin (``cdn_origin_bytes``) are billed as CloudFront-Out-Bytes instead."""
    con = connect()
    make_tables(
        con,
        line_items=[line_item(DAY, "DataTransfer-Out-Bytes", "0.090000")],
        requests=[
            request_row(DAY, "1001", "REST.GET.OBJECT", sent=300),
            request_row(DAY, "1002", "REST.GET.OBJECT", sent=900, cdn_origin=600),  # 300 to viewers direct
        ],
    )
    allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    # 90,000 µ$ over 300 / (900 − 600) bytes: 45,000 each (counting CloudFront's fetches: 22,500 / 67,500)
    assert per_user(con) == {"1001": Decimal("0.045000"), "1002": Decimal("0.045000")}
