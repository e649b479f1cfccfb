import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bucketlens.costing.allocation import allocate_day
from bucketlens.costing.estimate import estimate_line_items
from bucketlens.costing.price_book import PriceBook, hours_in_month, tiered_rate
from tests.costing.tables import connect, make_tables, request_row, storage_row

SEPT = date(2025, 9, 15)  # 30-day month: 720 hours
OCT = date(2025, 10, 15)  # 31 days: 744 hours
TIB = 2**40
GIB = 2**30


def estimate(con, day, provider):
    summary = estimate_line_items(con, day, "storage", "requests", provider, "est")
    lines = con.execute(
        "SELECT usage_type, product_code, usage_amount, unblended_cost FROM est ORDER BY usage_type, product_code"
    ).fetchall()
    return summary, {(ut, p): (amount, cost) for ut, p, amount, cost in lines}


def _leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    else:
        yield path, node


def test_price_book_copy_holds_every_shared_price_and_keeps_its_source_text():
    """The shipped book is the shared price book plus the billing rules the savings layer needs (each
    entry of the shared copy is there with the same value; additions are dated in ``_sources``)."""
    book = PriceBook.load()
    assert "us-east-1" in book.about and "2026" in book.about and "cloudflare" in book.about.lower()
    shared = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "aws" / "price_book.json"
    for path, value in _leaves(json.loads(shared.read_text())):
        node = book.data
        for part in path:
            node = node[part]
        assert node == value, path
    assert (
        PriceBook.load(
            Path(__file__).resolve().parents[2] / "bucketlens" / "costing" / "price_book.json"
        ).data
        == book.data
    )


def test_hours_in_month():
    assert hours_in_month(SEPT) == 720
    assert hours_in_month(OCT) == 744
    assert hours_in_month(date(2024, 2, 10)) == 696
    assert hours_in_month(date(2025, 12, 31)) == 744


def test_tiered_rate():
    tiers = PriceBook.load().aws["storage_per_gb_month"]["STANDARD"]
    assert tiered_rate(tiers, 0) == 0.023
    assert tiered_rate(tiers, 1024) == pytest.approx(0.023)
    # 100 TB: 50 TB at 0.023 + 50 TB at 0.022
    assert tiered_rate(tiers, 100 * 1024) == pytest.approx(0.0225)
    # 1000 TB: 50·0.023 + 450·0.022 + 500·0.021 = 21.55 per TB-month
    assert tiered_rate(tiers, 1000 * 1024) == pytest.approx(21.55 / 1000)


def one_tib_standard(con):
    make_tables(
        con,
        storage=[
            storage_row(SEPT, "1001", "STANDARD", TIB * 24),
            storage_row(OCT, "1001", "STANDARD", TIB * 24),
        ],
        requests=[
            request_row(SEPT, "1001", "REST.PUT.OBJECT", count=10_000),
            request_row(SEPT, "1001", "REST.GET.OBJECT", count=1_000_000, sent=10 * GIB),
            request_row(SEPT, "1001", "REST.DELETE.OBJECT", count=500),  # free everywhere
            request_row(SEPT, "1001", "REST.GET.OBJECT", status="5xx", count=7, billable=0, errors=7),
        ],
    )


def test_aws_estimate_for_one_tib_standard():
    con = connect()
    one_tib_standard(con)
    summary, lines = estimate(con, SEPT, "aws_s3_us_east_1")
    # storage: 1 TiB all day = 2^40·24 byte-hours = 1024·24/720 = 34.1333 GB-Mo × $0.023 = $0.785066… → 0.785067
    # Tier 1: 10,000 × $0.005/1000 = $0.05; Tier 2: 1,000,000 × $0.0004/1000 = $0.40
    # egress: 10 GB × $0.09 (first paid tier; free 100 GB ignored) = $0.90
    assert lines == {
        ("TimedStorage-ByteHrs", "AmazonS3"): (pytest.approx(1024 * 24 / 720), Decimal("0.785067")),
        ("Requests-Tier1", "AmazonS3"): (10_000.0, Decimal("0.050000")),
        ("Requests-Tier2", "AmazonS3"): (1_000_000.0, Decimal("0.400000")),
        ("DataTransfer-Out-Bytes", "AmazonS3"): (10.0, Decimal("0.900000")),
    }
    assert summary.total == Decimal("2.135067")
    assert summary.line_items == 4
    assert summary.price_source == PriceBook.load().about
    # a 31-day month: 1024·24/744 × 0.023 = 0.759741…
    _, october = estimate(con, OCT, "aws_s3_us_east_1")
    assert october == {
        ("TimedStorage-ByteHrs", "AmazonS3"): (pytest.approx(1024 * 24 / 744), Decimal("0.759742"))
    }


def test_estimate_table_is_cur_shaped_and_allocates_with_is_estimate():
    con = connect()
    one_tib_standard(con)
    estimate_line_items(con, SEPT, "storage", "requests", "aws_s3_us_east_1", "est")
    assert [(n, t) for n, t, *_ in con.execute("DESCRIBE est").fetchall()] == [
        ("usage_start", "TIMESTAMP"),
        ("usage_end", "TIMESTAMP"),
        ("billing_period", "VARCHAR"),
        ("line_item_type", "VARCHAR"),
        ("product_code", "VARCHAR"),
        ("usage_type", "VARCHAR"),
        ("operation", "VARCHAR"),
        ("resource_id", "VARCHAR"),
        ("usage_amount", "DOUBLE"),
        ("unblended_cost", "DECIMAL(18,6)"),
        ("pricing_unit", "VARCHAR"),
    ]
    assert con.execute(
        "SELECT DISTINCT billing_period, line_item_type, CAST(usage_start AS DATE) FROM est"
    ).fetchall() == [("2025-09", "Usage", SEPT)]
    summary = allocate_day(con, SEPT, "est", "storage", "requests", "cost", is_estimate=True)
    assert summary.unknown_usage_types == []
    assert summary.allocated_total == Decimal("2.135067")
    assert con.execute("SELECT user_id, is_estimate, sum(amount_usd) FROM cost GROUP BY ALL").fetchall() == [
        ("1001", True, Decimal("2.135067"))
    ]


def test_r2_estimate_for_one_tib_standard_has_free_egress():
    con = connect()
    one_tib_standard(con)
    summary, lines = estimate(con, SEPT, "cloudflare_r2")
    # storage: 1024 GB / 30 days = 34.1333 GB-month × $0.015 = $0.512
    # Class A: 10,000 × $4.50/M = $0.045; Class B: 1,000,000 × $0.36/M = $0.36; egress: free
    assert lines == {
        ("TimedStorage-ByteHrs", "CloudflareR2"): (pytest.approx(1024 / 30), Decimal("0.512000")),
        ("Requests-Tier1", "CloudflareR2"): (10_000.0, Decimal("0.045000")),
        ("Requests-Tier2", "CloudflareR2"): (1_000_000.0, Decimal("0.360000")),
        ("DataTransfer-Out-Bytes", "CloudflareR2"): (10.0, Decimal("0.000000")),
    }
    assert summary.total == Decimal("0.917000")
    allocate_day(con, SEPT, "est", "storage", "requests", "cost", is_estimate=True)
    assert con.execute("SELECT count(*) FROM cost WHERE category = 'transfer'").fetchall() == [(0,)]


def test_aws_estimate_archive_classes_overhead_restores_and_transitions():
    con = connect()
    make_tables(
        con,
        storage=[
            storage_row(SEPT, "1002", "DEEP_ARCHIVE", TIB * 24, object_count=1_000_000),
            storage_row(SEPT, "1003", "STANDARD_IA", TIB * 24, object_count=10, small_object_count=4),
        ],
        requests=[
            request_row(SEPT, "1002", "REST.POST.RESTORE", "DEEP_ARCHIVE", count=1000, restored=100 * GIB),
            request_row(SEPT, "1003", "S3.TRANSITION_SIA.OBJECT", "STANDARD_IA", status="none", count=1000),
            request_row(SEPT, "1003", "REST.GET.OBJECT", "STANDARD_IA", count=1000, sent=GIB),
        ],
    )
    _, lines = estimate(con, SEPT, "aws_s3_us_east_1")
    objects_gb_mo = 1_000_000 * 24 / GIB / 720
    assert lines == {
        # 34.1333 GB-Mo × 0.00099 = 0.033792
        ("TimedStorage-GDA-ByteHrs", "AmazonS3GlacierDeepArchive"): (
            pytest.approx(1024 * 24 / 720),
            Decimal("0.033792"),
        ),
        # per object 32 KiB at 0.00099 (1e6·32 KiB = 30.52 GiB → 1.0173 GB-Mo → $0.001007) and
        # 8 KiB at STANDARD 0.023 (0.2543 GB-Mo → $0.005849)
        ("TimedStorage-GDA-Staging", "AmazonS3"): (pytest.approx(objects_gb_mo * 8192), Decimal("0.005849")),
        ("TimedStorage-GDA-Staging", "AmazonS3GlacierDeepArchive"): (
            pytest.approx(objects_gb_mo * 32768),
            Decimal("0.001007"),
        ),
        # 1000 standard restores × $0.10/1000; 100 GB restored × $0.02
        ("Requests-GDA-Tier3", "AmazonS3GlacierDeepArchive"): (1000.0, Decimal("0.100000")),
        ("Standard-Retrieval-Bytes", "AmazonS3GlacierDeepArchive"): (
            pytest.approx(100.0),
            Decimal("2.000000"),
        ),
        # STANDARD_IA: 34.1333 × 0.0125 = 0.426667; transitions 1000 × $0.01/1000; GETs 1000 × $0.001/1000;
        # retrieval 1 GB × $0.01; egress 1 GB × $0.09
        ("TimedStorage-SIA-ByteHrs", "AmazonS3"): (pytest.approx(1024 * 24 / 720), Decimal("0.426667")),
        ("Requests-Tier4", "AmazonS3"): (1000.0, Decimal("0.010000")),
        ("Requests-SIA-Tier2", "AmazonS3"): (1000.0, Decimal("0.001000")),
        ("Retrieval-SIA", "AmazonS3"): (1.0, Decimal("0.010000")),
        ("DataTransfer-Out-Bytes", "AmazonS3"): (1.0, Decimal("0.090000")),
    }
    summary = allocate_day(con, SEPT, "est", "storage", "requests", "cost", is_estimate=True)
    assert summary.shared_total == 0
    assert dict(con.execute("SELECT user_id, sum(amount_usd) FROM cost GROUP BY 1").fetchall()) == {
        "1002": Decimal("2.140648"),
        "1003": Decimal("0.537667"),
    }


def test_standard_storage_uses_the_tier_of_the_buckets_size():
    con = connect()
    # 100 TiB of STANDARD split 60/40 between two users: blended 0.0225 $/GB-Mo
    make_tables(
        con,
        storage=[
            storage_row(SEPT, "a", "STANDARD", 60 * TIB * 24),
            storage_row(SEPT, "b", "STANDARD", 40 * TIB * 24),
        ],
    )
    _, lines = estimate(con, SEPT, "aws_s3_us_east_1")
    # 100·1024·24/720 = 3413.333 GB-Mo × 0.0225 = 76.80
    assert lines == {
        ("TimedStorage-ByteHrs", "AmazonS3"): (pytest.approx(3413.3333333), Decimal("76.800000"))
    }


def test_unknown_provider_is_rejected():
    con = connect()
    make_tables(con)
    with pytest.raises(ValueError, match="unknown provider"):
        estimate_line_items(con, SEPT, "storage", "requests", "gcs", "est")


def test_intelligent_tiering_storage_and_monitoring_of_large_objects():
    con = connect()
    make_tables(
        con,
        storage=[
            storage_row(
                SEPT, "a", "INTELLIGENT_TIERING", TIB * 24, object_count=2000, small_object_count=1000
            )
        ],
    )
    _, lines = estimate(con, SEPT, "aws_s3_us_east_1")
    # storage at the Frequent Access rate: 34.1333 × 0.023; monitoring: 1000 objects ≥ 128 KiB for 1/30 month
    # × $0.0025/1000 = $0.0000833 → 0.000083
    assert lines == {
        ("TimedStorage-INT-FA-ByteHrs", "AmazonS3"): (pytest.approx(1024 * 24 / 720), Decimal("0.785067")),
        ("Monitoring-Automation-INT", "AmazonS3"): (pytest.approx(1000 / 30), Decimal("0.000083")),
    }
    allocate_day(con, SEPT, "est", "storage", "requests", "cost", is_estimate=True)
    assert con.execute("SELECT user_id, category, amount_usd FROM cost ORDER BY 1").fetchall() == [
        ("_shared", "other", Decimal("0.000083")),
        ("a", "storage", Decimal("0.785067")),
    ]
