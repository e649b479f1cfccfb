"""The generated data is pinned: a small generation (60 users x 10 days, seed 11) must keep its content.

Speeding up the generator must not change what it writes (the demo's printed figures, the labelled
anomalies and every test that counts rows rest on it). Each source is reduced to a digest of its
*content* — gzip files decompressed, Parquet files read back as rows, the SQLite users table as rows,
the inventory manifests without their per-file size and MD5 — so the pin holds whichever zlib or
Parquet writer version the machine has, yet any changed line, row or label fails it, naming the source.
A change of the data on purpose updates ``PINNED`` (and says why in the commit).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthetic import access_logs, generate

# With the CloudFront logs (issue 20): access-logs, inventory and users.sqlite are unchanged; cloudwatch
# gains the AWS/CloudFront series, cur the AmazonCloudFront line items (its S3 rows and credit unchanged),
# labels.jsonl the CDN labels (its other labels unchanged), and cloudfront/ is new.
PINNED = {
    "access-logs": "682584170727a692",
    "cloudfront": "58c64811b08755e4",
    "cloudwatch": "3ecd504df05b26f2",
    "cur": "5fdcd480b3254313",
    "inventory": "1e8c4d63f9a2b289",
    "labels.jsonl": "d7fa0d933447a90b",
    "users.sqlite": "d14ed923f11a6a0d",
}
COUNTS = {
    "files": 3153,  # + 461 CloudFront log files (one per distribution and hour with requests, + the late file)
    "inventory_rows": 76_032,
    "access_log_lines": 19_116,
    "cur_line_items": 641,  # + 462 AmazonCloudFront items (per billed day, distribution, region and usage type)
    "anomalies": 21,  # + cdn_hit_ratio_drop, cdn_hotlinking and 2 malformed_cdn_line labels
}


def _content(path: Path, rel: Path) -> bytes:
    """The bytes that carry the data: what a reader of the file sees, not how it was compressed."""
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    if path.suffix == ".parquet":
        return repr(pq.read_table(path).to_pylist()).encode()
    if path.name == "manifest.json" and rel.parts[0] == "inventory":
        body = json.loads(path.read_text())
        body["files"] = [f["key"] for f in body["files"]]
        return json.dumps(body, sort_keys=True).encode()
    if path.name == "users.sqlite":
        con = sqlite3.connect(path)
        try:
            return repr(con.execute("SELECT * FROM users ORDER BY user_id").fetchall()).encode()
        finally:
            con.close()
    return path.read_bytes()


def content_digests(root: Path) -> dict[str, str]:
    """One digest per top-level source (directory or file) over its files' paths and contents."""
    out: dict[str, hashlib._Hash] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "manifest.checksum":  # the checksum is the manifest's MD5
            continue
        rel = path.relative_to(root)
        h = out.setdefault(rel.parts[0], hashlib.sha256())
        h.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(_content(path, rel)).digest())
    return {name: h.hexdigest()[:16] for name, h in out.items()}


@pytest.mark.parametrize("batch_rows", [None, 97], ids=["default batches", "97-row batches"])
def test_a_small_generation_keeps_its_content(tmp_path, monkeypatch, batch_rows):
    """With 97-row batches, the log lines are formatted by DuckDB from many Arrow batches on both threads
    (the small generation's days fit in one default batch): the lines must come out in the same order."""
    if batch_rows:
        monkeypatch.setattr(access_logs, "FORMAT_BATCH_ROWS", batch_rows)  # CloudFront's formatting too
    summary = generate(tmp_path, date(2026, 3, 1), 10, 60, seed=11, inventory_rows_per_file=3_000)
    counts = {
        "files": sum(1 for p in tmp_path.rglob("*") if p.is_file()),
        "inventory_rows": summary.inventory_rows_total,
        "access_log_lines": summary.access_log_lines,
        "cur_line_items": summary.cur_line_items,
        "anomalies": summary.anomalies,
    }
    assert counts == COUNTS
    assert content_digests(tmp_path) == PINNED
