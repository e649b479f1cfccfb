"""usage.user_daily_cdn and usage.service_daily_cdn on hand-made CloudFront log rows: every figure
computed by hand below, the totals check, and a source without CloudFront logs giving empty tables."""

import importlib
from datetime import date
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from bucketlens.formats import cloudwatch
from resources.warehouse import Warehouse
from tests.cdn_rows import cdn_row, create_cdn_table, insert_cdn_rows
from tests.rows import insert_rows

user_cdn = importlib.import_module("assets.usage.user_daily_cdn")
service_cdn = importlib.import_module("assets.usage.service_daily_cdn")
DAY, NEXT = date(2026, 10, 5), date(2026, 10, 6)


def hand_rows():
    return [
        # 1001 in the US: 2 hits (HTTPS), 1 miss (HTTP), 1 RefreshHit, 1 origin error (502), 1 client 404
        cdn_row(DAY, "1001", result="Hit", bytes_sent=1000, ttfb=0.010, referer="https://blog.example.org/p"),
        cdn_row(DAY, "1001", result="Hit", bytes_sent=3000, ttfb=0.020, referer="https://cdn.example.com/x"),
        cdn_row(DAY, "1001", result="Miss", bytes_sent=4000, protocol="http", ttfb=0.200,
                referer="http://forum.example.net/t/1"),
        cdn_row(DAY, "1001", result="RefreshHit", bytes_sent=2000, ttfb=0.100),
        cdn_row(DAY, "1001", result="Error", bytes_sent=500, status=502, ttfb=1.0, detailed="OriginConnectError"),
        cdn_row(DAY, "1001", result="Error", bytes_sent=300, status=404, detailed="Error",
                referer="https://blog.example.org/q"),
        # 1001 in Europe: one HTTP hit
        cdn_row(DAY, "1001", region="EU", result="Hit", bytes_sent=700, protocol="http",
                referer="https://eu.example.de/"),
        # 1002 in the US: a miss over HTTPS; a LimitExceeded 503
        cdn_row(DAY, "1002", result="Miss", bytes_sent=9000),
        cdn_row(DAY, "1002", result="LimitExceeded", bytes_sent=100, status=503),
        # another day: not in DAY's figures
        cdn_row(NEXT, "1002", result="Hit", bytes_sent=5),
    ]  # fmt: skip


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("raw", "usage"):
        con.execute(f"CREATE SCHEMA {schema}")
    create_cdn_table(con)
    con.execute(cloudwatch.TABLE_DDL)
    insert_cdn_rows(con, hand_rows())
    return con


def by_key(con, day=DAY):
    cursor = con.execute(
        "SELECT * FROM usage.user_daily_cdn WHERE usage_date = ? ORDER BY user_id, edge_region", [day]
    )
    names = [d[0] for d in cursor.description]
    return {(r[1], r[3]): dict(zip(names, r, strict=True)) for r in cursor.fetchall()}


def test_per_user_region_figures_by_hand(con):
    (result, _) = user_cdn.load_window(con, [DAY, NEXT])
    rows = by_key(con)
    us = rows[("1001", "US")]
    # 6 requests; HTTPS all but the Miss; bytes 1000+3000+4000+2000+500+300 = 10,800
    assert (us["requests"], us["https_requests"], us["http_requests"], us["bytes_sent"]) == (6, 5, 1, 10800)
    # hits: Hit ×2 + RefreshHit = 3; misses: 1; origin fetches: Miss + RefreshHit + OriginConnectError = 3
    assert (us["hits"], us["misses"], us["origin_fetches"]) == (3, 1, 3)
    # hit bytes 1000+3000+2000 = 6000, miss bytes 4000: ratios 3/4 and 6000/10000
    assert (us["hit_bytes"], us["miss_bytes"], us["hit_ratio"], us["byte_hit_ratio"]) == (
        6000,
        4000,
        0.75,
        0.6,
    )
    assert (us["errors_4xx"], us["errors_5xx"]) == (1, 1)
    # TTFB of the 4 answers below 400 (the 404 and the 502 left out): 10, 20, 100, 200 ms
    # p50 = (20 + 100) / 2 = 60; p95 at position 0.95·3 = 2.85 → 100 + 0.85·(200 − 100) = 185
    assert us["ttfb_p50_ms"] == pytest.approx(60.0)
    assert us["ttfb_p95_ms"] == pytest.approx(185.0)
    # external referer hosts: blog.example.org, forum.example.net (cdn.example.com is the request's own host)
    assert us["referer_hosts"] == 2
    # over the user's day: + eu.example.de = 3, repeated on each of the user's rows
    assert us["user_referer_hosts"] == rows[("1001", "EU")]["user_referer_hosts"] == 3
    eu = rows[("1001", "EU")]
    assert (eu["requests"], eu["https_requests"], eu["bytes_sent"], eu["hit_ratio"]) == (1, 0, 700, 1.0)
    other = rows[("1002", "US")]
    # LimitExceeded: neither hit nor miss nor origin fetch; a 5xx
    assert (other["requests"], other["hits"], other["misses"], other["origin_fetches"]) == (2, 0, 1, 1)
    assert (other["hit_ratio"], other["errors_5xx"], other["user_referer_hosts"]) == (0.0, 1, 0)
    assert result.checks["totals_match_cdn_logs"].passed
    assert (
        result.metadata["requests"].value == 9 and result.metadata["bytes_sent"].value == 10800 + 700 + 9100
    )


def test_totals_check_fails_when_a_row_is_missing(con):
    user_cdn.load_window(con, [DAY])
    con.execute("DELETE FROM usage.user_daily_cdn WHERE user_id = '1002'")
    figures = user_cdn.window_figures(con, user_cdn.FIGURES_SQL, [DAY])[DAY]
    assert (figures["requests"], figures["logged"]) == (7, 9)


def test_service_cdn_from_logs_and_from_cloudwatch(con):
    user_cdn.load_window(con, [DAY])
    service_cdn.load_window(con, [DAY])
    row = con.execute(
        "SELECT requests, bytes_downloaded, error_rate_4xx, error_rate_5xx, error_rate, cache_hit_rate, "
        "cache_hit_rate_source, log_origin_fetches FROM usage.service_daily_cdn"
    ).fetchall()
    # 9 requests, 20,600 bytes; 1 4xx, 2 5xx; hits 3+1 = 4 of hits+misses 4+2 = 6; origin fetches 3+1+0
    assert row == [(9, 20600, 1 / 9, 2 / 9, 3 / 9, 4 / 6, "logs", 4)]
    # CloudWatch points (two 12-hour periods): Requests 100 and 300, CacheHitRate 80 % and 96 %:
    # weighted (100·0.80 + 300·0.96) / 400 = 0.92; 5xxErrorRate 2 % both: 0.02
    points = [("Requests", 100, 0), ("Requests", 300, 12), ("CacheHitRate", 80, 0), ("CacheHitRate", 96, 12),
              ("5xxErrorRate", 2, 0), ("5xxErrorRate", 2, 12), ("BytesDownloaded", 5000, 0)]  # fmt: skip
    insert_rows(
        con,
        "INSERT INTO raw.cloudwatch_metrics (ts, metric_name, dimension_name, dimension_value, stat, value, "
        "period_seconds, unit, usage_date) VALUES (? , ?, 'DistributionId', 'E1DIST', 'Sum', ?, 43200, ?, ?)",
        [(f"{DAY} {h:02d}:00:00", m, v, "Percent" if "Rate" in m else "None", DAY) for m, v, h in points],
    )
    service_cdn.load_window(con, [DAY])
    row = con.execute(
        "SELECT requests, bytes_downloaded, error_rate_5xx, cache_hit_rate, cache_hit_rate_source, "
        "log_hit_ratio, requests_source FROM usage.service_daily_cdn"
    ).fetchall()
    assert row[0][:2] == (400, 5000)
    assert row[0][2] == pytest.approx(0.02) and row[0][3] == pytest.approx(0.92)
    assert row[0][4:] == ("cloudwatch", 4 / 6, "cloudwatch")


def test_a_source_without_cloudfront_logs_materializes_empty(tmp_path):
    warehouse = Warehouse(database=str(tmp_path / "w.duckdb"))
    placeholder = dg.AssetSpec("cdn_requests")  # the source half's raw asset; only a name here
    result = dg.materialize(
        [placeholder, user_cdn.user_daily_cdn, service_cdn.service_daily_cdn],
        partition_key=str(DAY),
        resources={"warehouse": warehouse},
        selection=[user_cdn.ASSET, dg.AssetKey("service_daily_cdn")],
    )
    assert result.success
    with warehouse.connect() as c:
        assert c.execute("SELECT count(*) FROM usage.user_daily_cdn").fetchall() == [(0,)]
        assert c.execute("SELECT count(*) FROM usage.service_daily_cdn").fetchall() == [(0,)]


def test_the_cost_asset_splits_a_cloudfront_bill_by_region_and_reconciles(con):
    """The per-user CDN table feeds cost.user_daily_cost: CloudFront line items of raw.cost_line_items
    split by the bytes and requests of their edge region, to the micro-dollar (hand-computed)."""
    import logging

    from bucketlens.formats import cur

    storage = importlib.import_module("assets.usage.user_daily_storage")
    requests = importlib.import_module("assets.usage.user_daily_requests")
    cost = importlib.import_module("assets.cost.user_daily_cost")
    con.execute("CREATE SCHEMA IF NOT EXISTS cost")
    for ddl in (storage.TABLE_DDL, requests.TABLE_DDL, cost.TABLE_DDL):
        con.execute(ddl)
    cur.ensure_tables(con)
    items = [("US-DataTransfer-Out-Bytes", "0.020600"), ("EU-DataTransfer-Out-Bytes", "0.000700"),
             ("US-Requests-Tier2-HTTPS", "0.000007"), ("US-Requests-Tier1", "0.000003")]  # fmt: skip
    insert_rows(
        con,
        "INSERT INTO raw.cost_line_items (usage_start, line_item_type, product_code, usage_type, unblended_cost, "
        "billing_period) VALUES (?, 'Usage', 'AmazonCloudFront', ?, ?, '2026-10')",
        [(f"{DAY} 00:00:00", t, c) for t, c in items],
    )
    user_cdn.load_window(con, [DAY])
    (day,) = cost.load_window(con, [DAY], None, logging.getLogger("test"))
    assert day.checks["reconciles_to_the_bill"].passed
    per_user = dict(
        con.execute("SELECT user_id, sum(amount_usd) FROM cost.user_daily_cost GROUP BY 1").fetchall()
    )
    # US bytes 1001:10,800, 1002:9,100 (W=19,900): 20,600 µ$ → 11,180.x / 9,419.x: 1001 floor 11,180 rem
    #   (20,600·10,800 = 222,480,000) mod 19,900 = 222,480,000 − 11,180·19,900 = 2,000; 1002 187,460,000 −
    #   9,419·19,900 = 18,100 → 1 left → 1002: 11,180 / 9,420. EU bytes: only 1001 (700) → 700.
    # US HTTPS: 1001:5, 1002:2 (W=7) → 7 µ$: 5 / 2; US HTTP: 1001 only (the Miss) → 3.
    assert per_user == {"1001": Decimal("0.011888"), "1002": Decimal("0.009422")}
    assert {c for (c,) in con.execute("SELECT DISTINCT category FROM cost.user_daily_cost").fetchall()} == {
        "cdn"
    }
