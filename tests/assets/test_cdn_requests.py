"""raw.cdn_requests materialized in-process: a day reads its files and the next day's, a late file is
picked up by a rerun, reruns replace the partition and its quarantine exactly, a source without
CloudFront logs gives empty days, unknown edge codes are listed."""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path

import pytest

from assets.raw.cdn_requests import cdn_requests
from tests.assets.raw_helpers import materialize_day, query
from tests.rows import insert_rows

DAY = date(2026, 12, 5)
FIELDS = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status x-edge-result-type cs-protocol"
HEADER = f"#Version: 1.0\n#Fields: {FIELDS}\n"
COUNTS = (
    "SELECT (SELECT count(*) FROM raw.cdn_requests WHERE usage_date = ?), "
    "(SELECT count(DISTINCT (source_file, source_line)) FROM raw.cdn_requests WHERE usage_date = ?), "
    "(SELECT coalesce(sum(bytes_sent), 0) FROM raw.cdn_requests WHERE usage_date = ?), "
    "(SELECT count(*) FROM raw.quarantine WHERE source = 'cloudfront' AND partition_date = ?)"
)


def _line(day: str, time: str, edge: str, size: int, user: str, result: str = "Hit") -> str:
    return "\t".join([day, time, edge, str(size), "192.0.2.1", "GET", "d1.cloudfront.net",
                      f"/users/{user}/a%20b.jpg", "200", result, "https"])  # fmt: skip


def _write(root: Path, name: str, lines: list[str]) -> None:
    path = root / "cloudfront" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress((HEADER + "\n".join(lines) + "\n").encode(), mtime=0))


def _counts(home: Path, day: date = DAY) -> tuple:
    return query(home, COUNTS, [day] * 4)[0]


@pytest.fixture
def source(tmp_path) -> Path:
    root = tmp_path / "source"
    _write(root, "E1TEST.2026-12-05-10.A.gz", [
        _line("2026-12-05", "10:00:01", "IAD89-C1", 1000, "1001"),
        _line("2026-12-05", "10:20:00", "FRA6-C1", 2000, "1002", "Miss"),
        "2026-12-05\tbroken line",
        _line("2026-12-05", "10:59:59", "NRT12-C2", 3000, "1001"),
    ])  # fmt: skip
    # the next period's file holds the last second of the day and the first of the next
    _write(root, "E1TEST.2026-12-06-00.B.gz", [
        _line("2026-12-05", "23:59:59", "LHR5-C1", 400, "1003"),
        _line("2026-12-06", "00:00:05", "LHR5-C1", 500, "1003"),
    ])  # fmt: skip
    return root


def test_day_reads_its_files_and_the_next_days(tmp_path, source):
    home = tmp_path / "home"
    result = materialize_day(home, source, str(tmp_path / "users.sqlite"), DAY, assets=[cdn_requests])
    assert result.success
    assert _counts(home) == (4, 4, 6400, 1)
    (bad,) = query(home, "SELECT file, line_number, reason FROM raw.quarantine WHERE source = 'cloudfront'")
    assert bad == (
        "cloudfront/E1TEST.2026-12-05-10.A.gz",
        5,
        "wrong field count: 2 fields, the #Fields header names 11",
    )
    rows = query(
        home,
        "SELECT edge_region, user_id, uri_stem, distribution_id FROM raw.cdn_requests ORDER BY request_time",
    )
    assert rows == [
        ("US", "1001", "/users/1001/a b.jpg", "E1TEST"), ("EU", "1002", "/users/1002/a b.jpg", "E1TEST"),
        ("JP", "1001", "/users/1001/a b.jpg", "E1TEST"), ("EU", "1003", "/users/1003/a b.jpg", "E1TEST"),
    ]  # fmt: skip
    meta = result.asset_materializations_for_node("cdn_requests")[0].metadata
    assert (meta["requests"].value, meta["bytes"].value, meta["files"].value) == (4, 6400, 2)
    assert (meta["quarantined_lines"].value, meta["distributions"].value, meta["unknown_edges"].value) == (
        1,
        1,
        "",
    )


def test_late_file_picked_up_by_a_rerun_without_duplicates(tmp_path, source):
    home, users = tmp_path / "home", str(tmp_path / "users.sqlite")
    assert materialize_day(home, source, users, DAY, assets=[cdn_requests]).success
    assert _counts(home) == (4, 4, 6400, 1)
    # delivered a day late, named for the hour its requests occurred in
    _write(source, "E1TEST.2026-12-05-22.LATE.gz", [
        _line("2026-12-05", "22:10:00", "XQZ1-C1", 700, "1004"), "not\ta\trecord",
    ])  # fmt: skip
    for _ in range(2):  # each rerun replaces the partition and its quarantine exactly
        result = materialize_day(home, source, users, DAY, assets=[cdn_requests])
        assert result.success
        assert _counts(home) == (5, 5, 7100, 2)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["edge_locations_known"].passed
    assert checks["edge_locations_known"].metadata["unknown_edges"].value == "XQZ"
    assert _counts(home, date(2026, 12, 6)) == (0, 0, 0, 0)  # the next day is not touched


def test_source_without_cloudfront_logs_gives_empty_days(tmp_path):
    (tmp_path / "source").mkdir()
    home = tmp_path / "home"
    result = materialize_day(
        home, tmp_path / "source", str(tmp_path / "u.sqlite"), DAY, assets=[cdn_requests]
    )
    assert result.success
    assert _counts(home) == (0, 0, 0, 0)


def test_generated_cloudfront_logs_and_metrics_load(tiny_source, tmp_path):
    """On the generated source: the CDN's requests load, and the AWS/CloudFront series land in
    raw.cloudwatch_metrics (2 distributions x 6 metrics x 24 hours) beside the S3 ones."""
    from assets.raw.cloudwatch_metrics import cloudwatch_metrics

    day, home = tiny_source.start + timedelta(days=2), tmp_path / "home"
    users = f"sqlite:///{tiny_source.root / 'users.sqlite'}"
    result = materialize_day(home, tiny_source.root, users, day, assets=[cdn_requests, cloudwatch_metrics])
    assert result.success
    requests, _, bytes_, quarantined = _counts(home, day)
    assert requests > 500 and bytes_ > 0
    cw = query(home, "SELECT metric_name, count(*), count(DISTINCT dimension_value), sum(value) FILTER "
                     "(WHERE metric_name = 'Requests') FROM raw.cloudwatch_metrics WHERE dimension_name = "
                     "'DistributionId' AND bucket IS NULL GROUP BY 1 ORDER BY 1")  # fmt: skip
    assert [(m, n, d) for m, n, d, _ in cw] == [
        (m, 48, 2)
        for m in sorted(
            ["4xxErrorRate", "5xxErrorRate", "BytesDownloaded", "CacheHitRate", "Requests", "TotalErrorRate"]
        )  # fmt: skip
    ]
    assert next(r for r in cw if r[0] == "Requests")[3] == requests  # CloudWatch counts what the logs hold
    assert quarantined == 0


def test_the_quarantine_sample_names_file_line_and_reason_of_its_own_source():
    import duckdb

    from assets.raw.guards import quarantine_sample
    from bucketlens.formats.access_log_schema import QUARANTINE_DDL

    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(QUARANTINE_DDL)
    day = date(2026, 11, 4)
    insert_rows(
        con,
        "INSERT INTO raw.quarantine VALUES (?, ?, ?, ?, 'x', ?, now())",
        [
            ("cloudfront", day, "cloudfront/E1.2026-11-04-10.a.gz", 7, "12 fields, 33 expected"),
            ("access_log_requests", day, "access-logs/2026-11-04-10-00-00-A", 3, "unparsable"),
            ("cloudfront", day + timedelta(days=1), "cloudfront/E1.2026-11-05-00.b.gz", 1, "bad date"),
        ],
    )
    table = quarantine_sample(con, "cloudfront", day)["quarantine_sample"].md_str
    assert "cloudfront/E1.2026-11-04-10.a.gz | 7 | 12 fields, 33 expected" in table
    assert "access-logs" not in table and "bad date" not in table
    assert quarantine_sample(con, "cloudfront", day - timedelta(days=1)) == {}
