"""The CloudFront estimate (price book ``aws_cloudfront``) on hand-made CDN usage, split like a bill."""

from datetime import date
from decimal import Decimal

from bucketlens.costing.allocation import allocate_day
from bucketlens.costing.cdn_estimate import estimate_cdn_days
from tests.costing.tables import LINE_ITEMS_DDL, cdn_usage_row, connect, make_tables

DAY = date(2026, 10, 5)
GIB = 2**30


def test_cdn_estimate_by_hand_and_its_split():
    con = connect()
    make_tables(
        con,
        cdn=[
            cdn_usage_row(DAY, "1001", "US", https=10_000, http=20_000, sent=GIB),
            cdn_usage_row(DAY, "1002", "EU", https=5_000, sent=2 * GIB),
            cdn_usage_row(DAY, "1003", "unknown", http=10_000, sent=GIB),
            cdn_usage_row(date(2026, 10, 6), "1001", "US", https=1, sent=GIB),  # not estimated
        ],
    )
    con.execute(LINE_ITEMS_DDL.format(name="est"))
    estimate_cdn_days(con, [DAY], "cdn", "est")
    items = con.execute("SELECT usage_type, unblended_cost FROM est ORDER BY usage_type").fetchall()
    # first tier per region: US and EU $0.085/GB; HTTP $0.0075 (US) per 10k; HTTPS $0.0100 (US), $0.0120 (EU)
    # 'unknown' is priced at the US rates, without a region prefix; EU has no HTTP request: no line
    assert items == [
        ("DataTransfer-Out-Bytes", Decimal("0.085000")),  # 1 GB unknown region
        ("EU-DataTransfer-Out-Bytes", Decimal("0.170000")),  # 2 GB × 0.085
        ("EU-Requests-Tier2-HTTPS", Decimal("0.006000")),  # 5,000 × 0.012 / 10,000
        ("Requests-Tier1", Decimal("0.007500")),  # 10,000 × 0.0075 / 10,000
        ("US-DataTransfer-Out-Bytes", Decimal("0.085000")),
        ("US-Requests-Tier1", Decimal("0.015000")),  # 20,000 × 0.0075 / 10,000
        ("US-Requests-Tier2-HTTPS", Decimal("0.010000")),  # 10,000 × 0.0100 / 10,000
    ]
    assert {p for (p,) in con.execute("SELECT DISTINCT product_code FROM est").fetchall()} == {
        "AmazonCloudFront"
    }
    summary = allocate_day(con, DAY, "est", "storage", "requests", "cost", is_estimate=True, cdn="cdn")
    # region-less items over every region: bytes 1:2:1 → 85,000 µ$ as 21,250 / 42,500 / 21,250;
    # HTTP 20,000 : 10,000 → 7,500 as 5,000 / 2,500. 1001: 85,000+15,000+10,000+21,250+5,000 = 136,250
    # 1002: 170,000+6,000+42,500 = 218,500; 1003: 21,250+2,500 = 23,750
    per_user = dict(con.execute("SELECT user_id, sum(amount_usd) FROM cost GROUP BY 1").fetchall())
    assert per_user == {"1001": Decimal("0.136250"), "1002": Decimal("0.218500"), "1003": Decimal("0.023750")}
    assert summary.billed_total == summary.allocated_total == Decimal("0.378500")
    assert con.execute("SELECT bool_and(is_estimate), min(category) FROM cost").fetchall() == [(True, "cdn")]
