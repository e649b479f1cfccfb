from datetime import date
from decimal import Decimal

from bucketlens.costing.allocation import allocate_day, reconcile, reconciliation_sql
from tests.costing import tables as cdn_tables
from tests.costing.tables import connect, line_item, make_tables, request_row, storage_row

DAY = date(2025, 9, 15)
OTHER_DAY = date(2025, 9, 16)
CDN_DAY = date(2025, 9, 17)  # the CloudFront extension of the hand case (issue 20)


def rows(con, table="cost"):
    return con.execute(
        f"SELECT user_id, usage_type, amount_usd FROM {table} ORDER BY user_id, usage_type"
    ).fetchall()


def per_user(con, table="cost"):
    return dict(con.execute(f"SELECT user_id, sum(amount_usd) FROM {table} GROUP BY 1").fetchall())


def hand_case(con):
    cdn = cdn_tables.cdn_usage_row
    make_tables(
        con,
        line_items=[
            line_item(DAY, "TimedStorage-ByteHrs", "1.000000"),
            line_item(
                DAY, "USE1-TimedStorage-GDA-ByteHrs", "0.100001", product_code="AmazonS3GlacierDeepArchive"
            ),
            line_item(DAY, "Requests-Tier1", "0.050000"),
            line_item(DAY, "Requests-Tier2", "0.004000"),
            line_item(DAY, "DataTransfer-Out-Bytes", "0.090000"),
            line_item(DAY, None, "0.011000", line_item_type="Tax"),
            line_item(DAY, "USE1-TimedStorage-ByteHrs", "-0.500000", line_item_type="Credit"),
            # another day: must not leak into DAY
            line_item(OTHER_DAY, "TimedStorage-ByteHrs", "9.000000"),
            *cdn_tables.cloudfront_bill(CDN_DAY),  # by edge region and protocol; then S3's, a tax
            line_item(CDN_DAY, "USE1-CloudFront-Out-Bytes", "0.001500"),  # S3 → CloudFront: not egress
            line_item(CDN_DAY, "DataTransfer-Out-Bytes", "0.090000"),  # S3's own internet egress
            line_item(CDN_DAY, None, "0.001000", line_item_type="Tax"),
        ],
        storage=[
            storage_row(DAY, "1001", "STANDARD", 2000),
            storage_row(DAY, "1002", "STANDARD", 2000),
            storage_row(DAY, "1003", "STANDARD", 2000),
            storage_row(DAY, "_shared", "STANDARD", 1000),
            storage_row(DAY, "1002", "DEEP_ARCHIVE", 1, object_count=1),
            storage_row(DAY, "1003", "DEEP_ARCHIVE", 2, object_count=1),
            storage_row(DAY, "1004", "STANDARD", 0),  # an empty prefix: no activity
            storage_row(OTHER_DAY, "1001", "STANDARD", 5),
        ],
        requests=[
            request_row(DAY, "1001", "REST.PUT.OBJECT", count=7),
            request_row(DAY, "1002", "REST.POST.UPLOADS", count=3),
            request_row(
                DAY, "1003", "REST.PUT.OBJECT", status="5xx", billable=0, errors=1
            ),  # 5xx: not billed
            request_row(DAY, "1003", "REST.DELETE.OBJECT"),  # free
            request_row(DAY, "1001", "REST.GET.OBJECT", count=2, sent=600),
            request_row(DAY, "1002", "REST.GET.OBJECT", count=2, sent=300),
            request_row(DAY, "1003", "REST.HEAD.OBJECT", count=3),
            request_row(
                DAY, "_shared", "REST.GET.OBJECT", status="4xx", count=1, billable=0, errors=1, sent=100
            ),
            request_row(DAY, "1004", "REST.GET.OBJECT", status="5xx", billable=0, errors=1),
            request_row(CDN_DAY, "1001", "REST.GET.OBJECT", count=1, sent=900),
        ],
        cdn=[
            cdn(CDN_DAY, "1001", "US", https=8, http=2, sent=3000, origin=2, miss_bytes=600),
            cdn(CDN_DAY, "1002", "US", https=5, sent=1000, origin=1, miss_bytes=400),
            cdn(CDN_DAY, "1002", "EU", https=1, http=3, sent=2000),
            cdn(CDN_DAY, "_shared", "US", https=1),
            cdn(CDN_DAY, "1003", "unknown", https=2, sent=500, origin=2, miss_bytes=500),
            cdn(DAY, "1001", "US", https=1000, sent=10**9),  # CloudFront usage on an S3-only day
        ],
    )


def test_hand_computed_day():
    con = connect()
    hand_case(con)
    summary = allocate_day(con, DAY, "line_items", "storage", "requests", "cost")

    # All money in micro-dollars (µ$). share = floor(c·w/W); leftover µ$ to the largest (c·w mod W),
    # ties to the smaller user id.
    #
    # TimedStorage-ByteHrs c=1,000,000 over STANDARD byte-hours 2000/2000/2000/1000 (W=7000):
    #   1001,1002,1003: 2·10^9/7000 = 285,714 rem 2000; _shared: 10^9/7000 = 142,857 rem 1000
    #   Σ floors 999,999 → 1 left → tie at rem 2000 among 1001/1002/1003 → 1001 (smallest id): 285,715
    # TimedStorage-GDA-ByteHrs c=100,001 over DEEP_ARCHIVE byte-hours 1002:1, 1003:2 (W=3):
    #   1002: 100,001/3 = 33,333 rem 2; 1003: 200,002/3 = 66,667 rem 1 → 1 left → 1002: 33,334
    # Requests-Tier1 c=50,000 over billable Tier-1 counts 1001:7 (PUT), 1002:3 (POST uploads); the 5xx
    #   PUT of 1003 is not billed (W=10): 1001 35,000; 1002 15,000
    # Requests-Tier2 c=4,000 over GET/HEAD counts 1001:2, 1002:2, 1003:3 (W=7); the 4xx of _shared and the
    #   5xx of 1004 have billable_count 0: 8000/7 = 1,142 rem 6 (×2); 12000/7 = 1,714 rem 2
    #   → 2 left → 1001 and 1002 (rem 6): 1,143 / 1,143 / 1,714
    # DataTransfer-Out-Bytes c=90,000 over bytes sent 600/300/0/100 (W=1000): 54,000 / 27,000 / 9,000 (_shared)
    # Usage per user: 1001 285,715+35,000+1,143+54,000 = 375,858
    #                 1002 285,714+33,334+15,000+1,143+27,000 = 362,191
    #                 1003 285,714+66,667+1,714 = 354,095
    #                 _shared 142,857+9,000 = 151,857            Σ = 1,244,001 = billed usage ✓
    # Tax c=11,000 pro rata over usage (W=1,244,001):
    #   1001 4,134,438,000/W = 3,323 rem 622,677;  1002 3,984,101,000/W = 3,202 rem 809,798
    #   1003 3,895,045,000/W = 3,131 rem 77,869;   _shared 1,670,427,000/W = 1,342 rem 977,658
    #   Σ 10,998 → 2 left → _shared (977,658), 1002 (809,798): 3,323 / 3,203 / 3,131 / 1,343
    # Credit c=−500,000: split |c| then negate:
    #   1001 187,929,000,000/W = 151,068 rem 256,932;  1002 181,095,500,000/W = 145,575 rem 54,425
    #   1003 177,047,500,000/W = 142,321 rem 33,679;   _shared 75,928,500,000/W = 61,035 rem 898,965
    #   Σ 499,999 → 1 left → _shared: −151,068 / −145,575 / −142,321 / −61,036
    assert rows(con) == [
        ("1001", "Credit:USE1-TimedStorage-ByteHrs", Decimal("-0.151068")),
        ("1001", "DataTransfer-Out-Bytes", Decimal("0.054000")),
        ("1001", "Requests-Tier1", Decimal("0.035000")),
        ("1001", "Requests-Tier2", Decimal("0.001143")),
        ("1001", "Tax", Decimal("0.003323")),
        ("1001", "TimedStorage-ByteHrs", Decimal("0.285715")),
        ("1002", "Credit:USE1-TimedStorage-ByteHrs", Decimal("-0.145575")),
        ("1002", "DataTransfer-Out-Bytes", Decimal("0.027000")),
        ("1002", "Requests-Tier1", Decimal("0.015000")),
        ("1002", "Requests-Tier2", Decimal("0.001143")),
        ("1002", "Tax", Decimal("0.003203")),
        ("1002", "TimedStorage-ByteHrs", Decimal("0.285714")),
        ("1002", "USE1-TimedStorage-GDA-ByteHrs", Decimal("0.033334")),
        ("1003", "Credit:USE1-TimedStorage-ByteHrs", Decimal("-0.142321")),
        ("1003", "Requests-Tier2", Decimal("0.001714")),
        ("1003", "Tax", Decimal("0.003131")),
        ("1003", "TimedStorage-ByteHrs", Decimal("0.285714")),
        ("1003", "USE1-TimedStorage-GDA-ByteHrs", Decimal("0.066667")),
        ("_shared", "Credit:USE1-TimedStorage-ByteHrs", Decimal("-0.061036")),
        ("_shared", "DataTransfer-Out-Bytes", Decimal("0.009000")),
        ("_shared", "Tax", Decimal("0.001343")),
        ("_shared", "TimedStorage-ByteHrs", Decimal("0.142857")),
    ]
    # totals: 1001 375,858+3,323−151,068 = 228,113; 1002 362,191+3,203−145,575 = 219,819;
    #         1003 354,095+3,131−142,321 = 214,905; _shared 151,857+1,343−61,036 = 92,164; Σ 755,001
    assert per_user(con) == {
        "1001": Decimal("0.228113"),
        "1002": Decimal("0.219819"),
        "1003": Decimal("0.214905"),
        "_shared": Decimal("0.092164"),
    }
    assert summary.billed_total == summary.allocated_total == Decimal("0.755001")
    assert summary.line_items == 7
    assert summary.users == 3
    assert summary.shared_total == Decimal("0.092164")
    assert summary.unknown_usage_types == []

    categories = dict(con.execute("SELECT category, sum(amount_usd) FROM cost GROUP BY 1").fetchall())
    assert categories == {
        "storage": Decimal("1.100001"),
        "requests": Decimal("0.054000"),
        "transfer": Decimal("0.090000"),
        "adjustment": Decimal("-0.489000"),
    }
    classes = dict(
        con.execute(
            "SELECT driver || '/' || coalesce(storage_class, '*'), count(*) FROM cost GROUP BY 1"
        ).fetchall()
    )
    assert classes == {
        "byte_hours/STANDARD": 4,
        "byte_hours/DEEP_ARCHIVE": 2,
        "tier1/STANDARD": 2,
        "tier2/STANDARD": 3,
        "transfer_out_bytes/*": 3,
        "adjustment/*": 8,
    }


def test_output_shape():
    con = connect()
    hand_case(con)
    allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    described = con.execute("DESCRIBE cost").fetchall()
    assert [(name, type_) for name, type_, *_ in described] == [
        ("usage_date", "DATE"),
        ("user_id", "VARCHAR"),
        ("category", "VARCHAR"),
        ("storage_class", "VARCHAR"),
        ("amount_usd", "DECIMAL(18,6)"),
        ("is_estimate", "BOOLEAN"),
        ("driver", "VARCHAR"),
        ("usage_type", "VARCHAR"),
    ]
    assert con.execute("SELECT DISTINCT usage_date, is_estimate FROM cost").fetchall() == [(DAY, False)]
    # no scratch tables left behind
    assert [
        t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall() if t.startswith("__")
    ] == []


def test_user_without_activity_gets_no_row():
    con = connect()
    hand_case(con)
    allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    assert con.execute("SELECT count(*) FROM cost WHERE user_id = '1004'").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM cost WHERE amount_usd = 0").fetchall() == [(0,)]


def test_is_estimate_flag_is_passed_through():
    con = connect()
    hand_case(con)
    allocate_day(con, DAY, "line_items", "storage", "requests", "cost", is_estimate=True)
    assert con.execute("SELECT DISTINCT is_estimate FROM cost").fetchall() == [(True,)]


def test_unknown_usage_types_go_to_shared_and_are_reported():
    con = connect()
    make_tables(
        con,
        line_items=[
            line_item(DAY, "USE1-Brand-New-Feature", "0.123456"),
            line_item(DAY, "USE1-Brand-New-Feature", "0.000001"),
            line_item(DAY, None, "0.010000", operation="Mystery", pricing_unit="Widgets"),
            line_item(DAY, "TimedStorage-ByteHrs", "0.500000"),
        ],
        storage=[storage_row(DAY, "1001", "STANDARD", 10)],
    )
    summary = allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    assert rows(con) == [
        ("1001", "TimedStorage-ByteHrs", Decimal("0.500000")),
        ("_shared", "FOCUS:Mystery/Widgets", Decimal("0.010000")),
        ("_shared", "USE1-Brand-New-Feature", Decimal("0.123457")),
    ]
    assert summary.unknown_usage_types == [
        ("FOCUS:Mystery/Widgets", Decimal("0.010000")),
        ("USE1-Brand-New-Feature", Decimal("0.123457")),
    ]
    assert con.execute("SELECT DISTINCT category, driver FROM cost WHERE user_id = '_shared'").fetchall() == [
        ("other", "unknown")
    ]
    assert summary.shared_total == Decimal("0.133457")
    assert summary.allocated_total == summary.billed_total == Decimal("0.633457")


def test_no_weight_and_shared_features_go_to_shared():
    con = connect()
    make_tables(
        con,
        line_items=[
            line_item(DAY, "Requests-GLACIER-Tier1", "0.030000"),  # nobody touched GLACIER
            line_item(DAY, "EarlyDelete-SIA", "0.020000"),  # no deletes logged: falls back to _shared
            line_item(DAY, "Inventory-ObjectsListed", "0.002500"),
            line_item(DAY, "Monitoring-Automation-INT", "0.001000"),
        ],
        storage=[storage_row(DAY, "1001", "STANDARD", 10)],
        requests=[request_row(DAY, "1001", "REST.PUT.OBJECT")],
    )
    summary = allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    assert per_user(con) == {"_shared": Decimal("0.053500")}
    assert summary.users == 0
    assert summary.unknown_usage_types == []


def test_region_prefixed_line_items_split_like_unprefixed():
    results = []
    for prefix in ("", "USE1-", "EU-", "APN1-"):
        con = connect()
        make_tables(
            con,
            line_items=[
                line_item(DAY, prefix + "TimedStorage-SIA-ByteHrs", "0.700000"),
                line_item(DAY, prefix + "Requests-SIA-Tier2", "0.000300"),
            ],
            storage=[storage_row(DAY, "a", "STANDARD_IA", 1), storage_row(DAY, "b", "STANDARD_IA", 2)],
            requests=[request_row(DAY, "a", "REST.GET.OBJECT", "STANDARD_IA", count=2)],
        )
        allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
        results.append(
            con.execute(
                "SELECT user_id, category, storage_class, amount_usd FROM cost ORDER BY ALL"
            ).fetchall()
        )
    assert all(r == results[0] for r in results)
    assert results[0] == [
        ("a", "requests", "STANDARD_IA", Decimal("0.000300")),
        # 700,000·1/3 = 233,333 rem 1 (a); 700,000·2/3 = 466,666 rem 2 (b) → the left µ$ goes to b
        ("a", "storage", "STANDARD_IA", Decimal("0.233333")),
        ("b", "storage", "STANDARD_IA", Decimal("0.466667")),
    ]


def test_archive_objects_retrieval_restore_and_early_delete_weights():
    con = connect()
    make_tables(
        con,
        line_items=[
            line_item(DAY, "TimedStorage-GDA-Staging", "0.000300", product_code="AmazonS3GlacierDeepArchive"),
            line_item(DAY, "TimedStorage-SIA-SmObjects", "0.000400"),
            line_item(DAY, "Requests-GDA-Tier3", "0.000200", product_code="AmazonS3GlacierDeepArchive"),
            line_item(DAY, "Standard-Retrieval-Bytes", "0.000500", product_code="AmazonS3GlacierDeepArchive"),
            line_item(DAY, "Retrieval-SIA", "0.000600"),
            line_item(DAY, "EarlyDelete-SIA", "0.000700"),
            line_item(DAY, "Requests-Tier4", "0.000800"),
            line_item(DAY, "DataTransfer-In-Bytes", "0.000900"),
        ],
        storage=[
            storage_row(DAY, "a", "DEEP_ARCHIVE", 100, object_count=1),
            storage_row(DAY, "b", "DEEP_ARCHIVE", 1, object_count=2),  # Staging: by objects, not bytes
            storage_row(DAY, "a", "STANDARD_IA", 10**9, object_count=5, small_object_count=0),
            storage_row(DAY, "b", "STANDARD_IA", 1, object_count=1, small_object_count=1),
        ],
        requests=[
            request_row(DAY, "a", "REST.POST.RESTORE", "DEEP_ARCHIVE", restored=10),
            request_row(DAY, "b", "REST.POST.RESTORE", "DEEP_ARCHIVE", restored=30),
            request_row(DAY, "b", "REST.POST.RESTORE", "DEEP_ARCHIVE", count=2, billable=2, status="4xx"),
            request_row(DAY, "a", "REST.GET.OBJECT", "STANDARD_IA", sent=1000),
            request_row(DAY, "b", "REST.DELETE.OBJECT", "STANDARD_IA", received=0),
            request_row(DAY, "a", "S3.TRANSITION_SIA.OBJECT", "STANDARD_IA", status="none"),
            request_row(DAY, "b", "REST.PUT.OBJECT", "STANDARD", received=1),
        ],
    )
    allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    assert rows(con) == [
        ("a", "Requests-GDA-Tier3", Decimal("0.000050")),  # restores a:1, b:3 → 50 / 150
        ("a", "Requests-Tier4", Decimal("0.000800")),  # lifecycle transitions, all classes
        ("a", "Retrieval-SIA", Decimal("0.000600")),  # bytes sent by GETs of STANDARD_IA
        ("a", "Standard-Retrieval-Bytes", Decimal("0.000125")),  # restored bytes a:10, b:30
        ("a", "TimedStorage-GDA-Staging", Decimal("0.000100")),  # objects a:1, b:2
        ("b", "DataTransfer-In-Bytes", Decimal("0.000900")),  # bytes received
        ("b", "EarlyDelete-SIA", Decimal("0.000700")),  # deletes in STANDARD_IA
        ("b", "Requests-GDA-Tier3", Decimal("0.000150")),
        ("b", "Standard-Retrieval-Bytes", Decimal("0.000375")),
        ("b", "TimedStorage-GDA-Staging", Decimal("0.000200")),
        ("b", "TimedStorage-SIA-SmObjects", Decimal("0.000400")),  # small objects of STANDARD_IA
    ]


def test_adjustments_without_usage_go_to_shared():
    con = connect()
    make_tables(
        con,
        line_items=[
            line_item(DAY, None, "0.010000", line_item_type="Tax"),
            line_item(DAY, "TimedStorage-ByteHrs", "0.000000"),
        ],
        storage=[storage_row(DAY, "1001", "STANDARD", 10)],
    )
    summary = allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    assert con.execute("SELECT user_id, category, usage_type, amount_usd FROM cost").fetchall() == [
        ("_shared", "adjustment", "Tax", Decimal("0.010000"))
    ]
    assert summary.billed_total == Decimal("0.010000")


def test_empty_day():
    con = connect()
    hand_case(con)
    summary = allocate_day(con, date(2025, 9, 1), "line_items", "storage", "requests", "cost")
    assert con.execute("SELECT count(*) FROM cost").fetchall() == [(0,)]
    assert summary.billed_total == summary.allocated_total == Decimal(0)
    assert summary.line_items == 0


def test_huge_costs_and_weights_do_not_overflow():
    con = connect()
    make_tables(
        con,
        line_items=[line_item(DAY, "TimedStorage-ByteHrs", "9999999.999999")],
        storage=[
            storage_row(DAY, "a", "STANDARD", 10**20),
            storage_row(DAY, "b", "STANDARD", 10**20 - 1),
            storage_row(DAY, "c", "STANDARD", 1),
        ],
    )
    summary = allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    assert summary.allocated_total == summary.billed_total == Decimal("9999999.999999")
    # c = 9,999,999,999,999 µ$, W = 2·10^20: a = c/2 = 4,999,999,999,999.5 → 4,999,999,999,999 rem 10^20,
    # b = 4,999,999,999,999.45… → floor rem 0.45·W; c ≈ 5·10^-8 → 0 rem ≈ c. 1 µ$ left → a (largest rem)
    assert rows(con) == [
        ("a", "TimedStorage-ByteHrs", Decimal("5000000.000000")),
        ("b", "TimedStorage-ByteHrs", Decimal("4999999.999999")),
    ]


def test_reconcile_and_reconciliation_sql():
    con = connect()
    hand_case(con)
    allocate_day(con, DAY, "line_items", "storage", "requests", "cost")
    result = reconcile(con, "cost", "line_items", DAY)
    assert (result.billed, result.allocated, result.difference) == (
        Decimal("0.755001"),
        Decimal("0.755001"),
        Decimal(0),
    )
    assert result.ok
    by_day = con.execute(reconciliation_sql("cost", "line_items")).fetchall()
    assert by_day == [
        (DAY, Decimal("0.755001"), Decimal("0.755001"), Decimal("0.000000")),
        (OTHER_DAY, Decimal("9.000000"), Decimal("0.000000"), Decimal("-9.000000")),
        (CDN_DAY, Decimal("0.589601"), Decimal("0.000000"), Decimal("-0.589601")),  # not allocated here
    ]
    con.execute(
        "UPDATE cost SET amount_usd = amount_usd + 0.01 WHERE user_id = '1001' AND usage_type = 'Tax'"
    )
    broken = reconcile(con, "cost", "line_items", DAY)
    assert broken.difference == Decimal("0.010000") and not broken.ok
