"""The generated CloudFront logs: labels of the injections, the late file, CUR line items equal to the
logs' bytes and requests times the price of their edge region, CloudWatch AWS/CloudFront series, and
the v2 shapes carrying the same requests as the legacy files."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from bucketlens.formats.cloudfront import stage_cloudfront
from bucketlens.keys import KeyPattern
from synthetic import generate
from synthetic.cloudfront import EDGES_BY_REGION
from synthetic.prices import CLOUDFRONT_HTTP_PER_10K, CLOUDFRONT_HTTPS_PER_10K, CLOUDFRONT_PER_GB

REGION = {code: region for region, codes in EDGES_BY_REGION.items() for code in codes}
GIB = 2**30


def _records(root):
    """(file key, fields) of every line of the legacy files, read with Python only."""
    for path in sorted((root / "cloudfront").glob("*.gz")):
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            if not line.startswith("#"):
                yield path.name, line.split("\t")


def _cur(root) -> list[dict]:
    rows = []
    for manifest in sorted(root.glob("cur/*/metadata/*/*-Manifest.json")):
        (uri,) = json.loads(manifest.read_text())["dataFiles"]
        path = root / "cur" / uri.split("/cur/", 1)[1]
        rows += duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchdf().to_dict("records")
    return [r for r in rows if r["line_item_product_code"] == "AmazonCloudFront"]


def test_labels_late_file_and_malformed_lines(small):
    summary, _ = small
    root = summary.out_dir
    labels = [json.loads(line) for line in (root / "labels.jsonl").read_text().splitlines()]
    cdn = [(r["date"], r["pattern"], r["user_id"]) for r in labels if "cdn" in r["pattern"]]
    assert cdn == [
        ("2026-09-27", "malformed_cdn_line", None),
        ("2026-09-29", "cdn_hit_ratio_drop", None),
        ("2026-09-29", "malformed_cdn_line", None),
        ("2026-10-02", "cdn_hotlinking", "1020"),
    ]
    drop = next(r for r in labels if r["pattern"] == "cdn_hit_ratio_drop")["details"]
    hot = next(r for r in labels if r["pattern"] == "cdn_hotlinking")["details"]
    records = list(_records(root))
    assert sum(1 for _, f in records if len(f) != 33) == 2  # the two malformed lines
    day = [f for _, f in records if len(f) == 33 and f[0] == "2026-09-29" and f[6].startswith("d")]
    media = [f for f in day if "MEDIA" in f[15] or f[15].startswith("media.")]
    hits = sum(f[13] in ("Hit", "RefreshHit") for f in media)
    assert drop == {"distribution_id": "E2PHV7MEDIA0X1", "hit_ratio": round(hits / len(media), 4),
                    "cause": "cache-busting query strings"}  # fmt: skip
    assert 0.5 < drop["hit_ratio"] < 0.7
    normal = [f for _, f in records if len(f) == 33 and f[0] != "2026-09-29" and f[15].startswith("media.")]
    assert sum(f[13] in ("Hit", "RefreshHit") for f in normal) / len(normal) > 0.88
    hotlinked = Counter(f[9].split("/")[2] for _, f in records
                        if len(f) == 33 and f[0] == "2026-10-02" and "forum-" in f[9] and "/users/1020/" in f[7])  # fmt: skip
    assert (
        len(hotlinked) == hot["referer_hosts"] >= 200 and sum(hotlinked.values()) == hot["requests"] == 1200
    )
    assert hot["requests"] >= 20 * hot["normal_daily_requests"]
    next_hour = {}
    for name, f in records:
        if name.startswith("E2PHV7MEDIA0X1.2026-09-28-00.") and len(f) == 33:
            next_hour.setdefault(name, set()).add(f[0])
    # the regular file of that hour, and the late one: the last minutes of the day before, named for the next hour
    assert sorted(map(sorted, next_hour.values())) == [["2026-09-27"], ["2026-09-28"]]


def test_cur_items_equal_the_logs_bytes_and_requests_times_price(small):
    summary, _ = small
    root = summary.out_dir
    usage: dict[tuple, list[int]] = {}
    for _, f in _records(root):
        if len(f) == 33:
            u = usage.setdefault((f[0], REGION[f[2][:3]]), [0, 0, 0])
            u[0] += int(f[3])
            u[1 if f[16] == "http" else 2] += 1
    cost: dict[tuple, float] = {}
    for li in _cur(root):
        key = (f"{li['line_item_usage_start_date']:%Y-%m-%d}", li["line_item_usage_type"].split("-")[0])
        cost[key] = cost.get(key, 0.0) + li["line_item_unblended_cost"]
        assert li["line_item_resource_id"].startswith("arn:aws:cloudfront::123456789012:distribution/E")
    billed = {k for k in usage if k[0] < "2026-10-03"}  # the last day is not billed yet
    assert set(cost) == billed
    for day, region in billed:
        size, http, https = usage[(day, region)]
        expected = size / GIB * CLOUDFRONT_PER_GB[region]
        expected += (
            http * CLOUDFRONT_HTTP_PER_10K[region] / 1e4 + https * CLOUDFRONT_HTTPS_PER_10K[region] / 1e4
        )
        assert cost[(day, region)] == pytest.approx(expected, abs=1e-8)
    # by hand, Japan on 2026-09-25: 119,138,493 bytes = 0.110956 GB x $0.114 = $0.0126490;
    # 2 HTTP x $0.0090 / 10,000 = $0.0000018; 33 HTTPS x $0.0120 / 10,000 = $0.0000396
    assert usage[("2026-09-25", "JP")] == [119_138_493, 2, 33]
    assert cost[("2026-09-25", "JP")] == pytest.approx(0.012649026 + 0.0000018 + 0.0000396, abs=1e-8)


def test_cloudwatch_cloudfront_series_match_the_logs(small):
    summary, _ = small
    root = summary.out_dir
    series = [
        json.loads(line) for line in (root / "cloudwatch" / "2026-09-25.jsonl").read_text().splitlines()
    ]
    cf = {
        (s["MetricName"], s["Dimensions"][0]["Value"]): s
        for s in series
        if s["Namespace"] == "AWS/CloudFront"
    }
    assert {m for m, _ in cf} == {"Requests", "BytesDownloaded", "4xxErrorRate", "5xxErrorRate", "TotalErrorRate",
                                  "CacheHitRate"}  # fmt: skip
    assert cf[("Requests", "E2PHV7MEDIA0X1")]["Dimensions"][1] == {"Name": "Region", "Value": "Global"}
    day = [f for _, f in _records(root) if len(f) == 33 and f[0] == "2026-09-25"]
    assert sum(
        cf[("Requests", d)]["Values"][h] for d in ("E2PHV7MEDIA0X1", "E3PHV7THUMBS2Y") for h in range(24)
    ) == len(day)
    assert sum(
        sum(cf[("BytesDownloaded", d)]["Values"]) for d in ("E2PHV7MEDIA0X1", "E3PHV7THUMBS2Y")
    ) == sum(int(f[3]) for f in day)


@pytest.mark.parametrize("fmt", ["v2-json", "v2-parquet"])
def test_v2_shapes_hold_the_same_requests(tmp_path, fmt):
    start = date(2026, 9, 24)
    legacy = generate(tmp_path / "legacy", start, 3, 15, seed=3)
    other = generate(tmp_path / fmt, start, 3, 15, seed=3, cdn_log_format=fmt)
    assert other.cdn_requests == legacy.cdn_requests > 0
    seen = []
    for summary in (legacy, other):
        root = summary.out_dir
        files = [
            (p.relative_to(root).as_posix(), str(p))
            for p in sorted((root / "cloudfront").rglob("*"))
            if p.is_file()
        ]
        con = duckdb.connect()
        load = stage_cloudfront(con, files, KeyPattern())
        seen.append(
            con.execute(
                "SELECT count(*), sum(bytes_sent), count(DISTINCT user_id), count(DISTINCT distribution_id), "
                "sum(hash(request_time, uri_stem, status, edge_location)) FROM stage_cdn_requests"
            ).fetchall()
        )
        assert load.requests == summary.cdn_requests
    assert seen[0] == seen[1]
    if fmt == "v2-json":
        assert any("DistributionId=E2PHV7MEDIA0X1/year=2026/month=09/day=24/hour=" in f for f, _ in files)


def test_generator_prices_are_the_price_books():
    book = json.loads((Path(__file__).parents[2] / "bucketlens/costing/price_book.json").read_text())[
        "aws_cloudfront"
    ]
    assert {
        r: tiers[0]["price"] for r, tiers in book["data_transfer_out_per_gb"].items()
    } == CLOUDFRONT_PER_GB
    assert {r: p["http"] for r, p in book["requests_per_10000"].items()} == CLOUDFRONT_HTTP_PER_10K
    assert {r: p["https"] for r, p in book["requests_per_10000"].items()} == CLOUDFRONT_HTTPS_PER_10K
    assert set(CLOUDFRONT_PER_GB) == set(EDGES_BY_REGION)
