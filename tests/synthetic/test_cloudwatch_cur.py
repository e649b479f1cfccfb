"""CloudWatch series and the CUR export agree with the inventory and the logs."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import duckdb

from tests.synthetic.helpers import csv_rows, fields, log_lines

STORAGE_TYPES = {
    "StandardStorage",
    "IntelligentTieringFAStorage",
    "StandardIAStorage",
    "GlacierInstantRetrievalStorage",
    "GlacierStorage",
    "DeepArchiveStorage",
}


def _series(root: Path, day: str) -> list[dict]:
    return [json.loads(x) for x in (root / f"cloudwatch/{day}.jsonl").read_text().splitlines()]


def test_storage_metrics_equal_inventory_bytes(mid):
    for day in (mid.start.isoformat(), mid.end.isoformat()):
        rows = csv_rows(mid.out_dir, day)
        live = [r for r in rows if r[4] == "false"]
        series = _series(mid.out_dir, day)
        size = {
            s["Dimensions"][1]["Value"]: s["Values"][0]
            for s in series
            if s["MetricName"] == "BucketSizeBytes"
        }
        assert sum(v for k, v in size.items() if k in STORAGE_TYPES) == sum(int(r[5]) for r in live)
        archived = sum(1 for r in live if r[8] == "DEEP_ARCHIVE")
        assert size["DeepArchiveS3ObjectOverhead"] == 8 * 1024 * archived
        assert size["DeepArchiveObjectOverhead"] == 32 * 1024 * archived
        objects = next(s for s in series if s["MetricName"] == "NumberOfObjects")
        assert objects["Values"] == [float(len(live))] and objects["Timestamps"] == [f"{day}T00:00:00Z"]


def test_request_metrics_match_logged_gets(mid):
    day = mid.start + timedelta(days=8)
    stamp = day.strftime("%d/%b/%Y")
    gets = defaultdict(set)
    for _, line in log_lines(mid.out_dir):
        f = fields(line)
        if len(f) >= 24 and f[6] == "REST.GET.OBJECT" and f[2][1:12] == stamp:
            gets[int(f[2][13:15])].add(f[5])
    series = {s["MetricName"]: s for s in _series(mid.out_dir, day.isoformat())}
    got = series["GetRequests"]
    assert got["Period"] == 3600 and got["Dimensions"][1] == {"Name": "FilterId", "Value": "EntireBucket"}
    assert len(got["Values"]) == 24
    logged = [len(gets[h]) for h in range(24)]
    assert sum(abs(a - b) for a, b in zip(got["Values"], logged, strict=True)) <= mid.malformed_log_lines
    assert series["FirstByteLatency"]["Stat"] == "Average"


def test_cur_export_manifest_restatement_and_products(mid):
    root = mid.out_dir
    manifests = sorted(root.glob("cur/s3-cur/metadata/BILLING_PERIOD=*/s3-cur-Manifest.json"))
    assert [m.parent.name for m in manifests] == ["BILLING_PERIOD=2026-09", "BILLING_PERIOD=2026-10"]
    first = json.loads(manifests[0].read_text())
    assert first["executionId"] == mid.cur_restated_execution_ids[1]
    assert first["billingPeriod"] == {"start": "2026-09-01T00:00:00.000Z", "end": "2026-10-01T00:00:00.000Z"}
    for m in manifests:
        for url in json.loads(m.read_text())["dataFiles"]:
            assert url.startswith("s3://photos-billing/cur/s3-cur/data/")
            assert (root / url.removeprefix("s3://photos-billing/")).is_file()
    early, late = (root / f for f in mid.cur_exports[0]["data_files"])
    con = duckdb.connect()

    def total(p):
        return con.execute("SELECT sum(line_item_unblended_cost) FROM read_parquet(?)", [str(p)]).fetchone()[
            0
        ]

    assert total(early) != total(late)
    latest = [
        str(root / u.removeprefix("s3://photos-billing/"))
        for m in manifests
        for u in json.loads(m.read_text())["dataFiles"]
    ]
    rows = con.execute(
        "SELECT line_item_product_code, line_item_line_item_type, typeof(line_item_unblended_rate), "
        "max(line_item_usage_start_date)::DATE, count(*) FROM read_parquet(?) GROUP BY ALL",
        [latest],
    ).fetchall()
    # the bucket's products, and the CDN's (its own line items, priced per edge region)
    assert {r[0] for r in rows} == {"AmazonS3", "AmazonS3GlacierDeepArchive", "AmazonCloudFront"}
    assert {r[1] for r in rows} == {"Usage", "Credit"} and {r[2] for r in rows} == {"VARCHAR"}
    assert max(r[3] for r in rows) == mid.end - timedelta(days=1), "the last day is not billed yet"


def test_cur_storage_is_inventory_byte_hours(mid):
    day = mid.end - timedelta(days=1)
    rows = csv_rows(mid.out_dir, day.isoformat())
    standard = sum(int(r[5]) for r in rows if r[8] == "STANDARD")
    files = [str(mid.out_dir / e["data_files"][-1]) for e in mid.cur_exports]
    amount, rate = (
        duckdb.connect()
        .execute(
            "SELECT line_item_usage_amount, line_item_unblended_rate FROM read_parquet(?) WHERE "
            "line_item_usage_type = 'TimedStorage-ByteHrs' AND line_item_usage_start_date::DATE = ?",
            [files, day],
        )
        .fetchone()
    )
    assert abs(amount - standard * 24 / 2**30 / 744) < 1e-9 and rate == "0.0230000000"
