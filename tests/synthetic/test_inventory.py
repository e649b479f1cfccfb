"""Inventory reports match AWS's layout, checksums and CSV/Parquet conventions."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from urllib.parse import quote, quote_plus, unquote_plus

import duckdb
import numpy as np

from synthetic.inventory import build_catalog, generate_inventory_snapshot
from synthetic.inventory_report import CSV_FILE_SCHEMA
from synthetic.objects import make_rows
from tests.synthetic.helpers import csv_rows, manifest

QUOTED_LINE = re.compile(r'^"[^"]*"(,"[^"]*")*$')


def test_every_day_has_a_verified_manifest(small):
    summary, _ = small
    root = summary.out_dir
    for i in range(summary.days):
        day = date.fromordinal(summary.start.toordinal() + i).isoformat()
        folder = root / f"inventory/photos-prod/daily-all-versions/{day}T01-00Z"
        body = (folder / "manifest.json").read_bytes()
        assert (folder / "manifest.checksum").read_text().strip() == hashlib.md5(body).hexdigest()
        m = manifest(root, day)
        assert m["sourceBucket"] == "photos-prod"
        assert m["destinationBucket"] == "arn:aws:s3:::photos-inventory"
        assert (
            m["version"] == "2016-11-30" and m["fileFormat"] == "CSV" and m["fileSchema"] == CSV_FILE_SCHEMA
        )
        assert isinstance(m["creationTimestamp"], str) and m["creationTimestamp"].isdigit()
        assert len(m["files"]) >= 2, "6k rows at 2,500 rows per file span several files"
        for f in m["files"]:
            assert re.fullmatch(
                r"inventory/photos-prod/daily-all-versions/data/[0-9a-f-]{36}\.csv\.gz", f["key"]
            )
            data = (root / f["key"]).read_bytes()
            assert len(data) == f["size"] and hashlib.md5(data).hexdigest() == f["MD5checksum"]


def test_csv_is_headerless_fully_quoted_and_form_encoded(mid):
    root = mid.out_dir
    day = mid.end.isoformat()
    import gzip

    first = manifest(root, day)["files"][0]["key"]
    raw_lines = gzip.decompress((root / first).read_bytes()).decode().splitlines()
    assert not raw_lines[0].startswith('"Bucket"')
    assert all(QUOTED_LINE.match(line) for line in raw_lines)
    rows = csv_rows(root, day)
    assert all(len(r) == 13 for r in rows)
    keys = [r[1] for r in rows]
    assert all(quote_plus(unquote_plus(k), safe="/") == k for k in keys)
    decoded = {unquote_plus(k) for k in keys}
    assert any(" " in k for k in decoded) and any("+" in k for k in keys)
    assert any("%25" in k for k in keys) and any("%C3%A9" in k for k in keys), "'100%' and 'Été' keys"
    assert any(k.endswith(" (1).jpg") or k.endswith(" (1).heic") for k in decoded), "duplicate-data copies"


def test_versions_classes_and_delete_markers(mid):
    rows = csv_rows(mid.out_dir, mid.end.isoformat())
    classes = {r[8] for r in rows if r[4] == "false"}
    assert classes == {
        "STANDARD",
        "INTELLIGENT_TIERING",
        "STANDARD_IA",
        "GLACIER_IR",
        "GLACIER",
        "DEEP_ARCHIVE",
    }
    markers = [r for r in rows if r[4] == "true"]
    noncurrent = [r for r in rows if r[3] == "false" and r[4] == "false"]
    assert markers and noncurrent
    assert all(r[5] == "" and r[7] == "" and r[8] == "" for r in markers), (
        "delete markers have no size/etag/class"
    )
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", r[6]) for r in rows)
    etags = [r[7] for r in rows if r[4] == "false"]
    assert all(re.fullmatch(r"[0-9a-f]{32}(-\d+)?", e) for e in etags)
    assert any("-" in e for e in etags), "multipart uploads"
    assert all(r[8] != "INTELLIGENT_TIERING" or r[12] == "FREQUENT" for r in rows)


def test_key_encoding_matches_quote_plus_and_quote():
    keys = [
        "users/1001/Été 2024/IMG 0001.jpg",
        "users/1/100%.jpg",
        "users/1/a+b.jpg",
        "tmp/x~y_z-1.2 #&=?;",
        "写真/ü",
    ]
    rows = make_rows(
        np.zeros(len(keys)),
        keys,
        np.zeros(len(keys)),
        np.ones(len(keys)),
        np.arange(len(keys)),
        np.zeros(len(keys)),
        np.full(len(keys), "upload"),
    )
    cat = build_catalog(rows, 7, duckdb.connect())
    got = dict(
        zip(cat.table.column("key").to_pylist(), cat.table.column("key_form").to_pylist(), strict=True)
    )
    uri = dict(zip(cat.table.column("key").to_pylist(), cat.table.column("key_uri").to_pylist(), strict=True))
    for k in keys:
        assert got[k] == quote_plus(k, safe="/")
        assert uri[k] == quote(k, safe="/")


def test_streamed_snapshot_in_chunks_and_parquet(tmp_path):
    stats = generate_inventory_snapshot(tmp_path, date(2026, 10, 1), 25_000, seed=3, rows_per_file=10_000)
    assert stats.rows == 25_000 and len(stats.files) == 3
    pq_dir = tmp_path / "pq"
    pstats = generate_inventory_snapshot(
        pq_dir, date(2026, 10, 1), 12_000, seed=3, inventory_format="parquet", rows_per_file=10_000
    )
    m = manifest(pq_dir, "2026-10-01")
    assert m["fileFormat"] == "Parquet" and m["fileSchema"].startswith("message s3.inventory {")
    files = [str(pq_dir / f["key"]) for f in m["files"]]
    con = duckdb.connect()
    count, total, ts_type = con.execute(
        "SELECT count(*), sum(size), any_value(typeof(last_modified_date)) FROM read_parquet(?)", [files]
    ).fetchone()
    assert count == 12_000 and total == sum(pstats.bytes_by_class.values()) and ts_type == "TIMESTAMP"
    cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files]).fetchall()]
    assert cols[:7] == [
        "bucket",
        "key",
        "version_id",
        "is_latest",
        "is_delete_marker",
        "size",
        "last_modified_date",
    ]
