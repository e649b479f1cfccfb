"""CloudFront standard logs: AWS's documented example lines (legacy W3C), the v2 JSON and Parquet shapes
with Hive partitions, quarantine by file and line, key decoding, edge regions and file selection."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bucketlens.formats.cloudfront import stage_cloudfront
from bucketlens.formats.cloudfront_files import file_distribution, file_hour, files_for_days
from bucketlens.keys import KeyPattern

FIXTURE = Path(__file__).parents[1] / "fixtures" / "cloudfront" / "aws_documented_example.log"
LEGACY_KEY = "cloudfront/example-prefix/EMLARXS9EXAMPLE.2019-12-04-21.RT4KCN4SGK9.gz"
HEADER = FIXTURE.read_text().split("\n", 2)[:2]
FIELDS = HEADER[1][len("#Fields: ") :].split(" ")
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.108 Safari/537.36"
)


def _gz(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return str(path)


def _stage(files, pattern: KeyPattern | None = None):
    con = duckdb.connect()
    load = stage_cloudfront(con, files, pattern or KeyPattern())
    rows = con.execute("SELECT * FROM stage_cdn_requests ORDER BY source_file, source_line").fetchall()
    names = [d[0] for d in con.execute("SELECT * FROM stage_cdn_requests LIMIT 0").description]
    bad = con.execute("SELECT * FROM stage_cdn_quarantine ORDER BY file, line_number").fetchall()
    return load, [dict(zip(names, r, strict=True)) for r in rows], bad


def _records() -> list[dict]:
    """The documented example's records as {W3C field: value}."""
    lines = FIXTURE.read_text().splitlines()[2:]
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in lines]


def test_aws_documented_example_lines(tmp_path):
    path = _gz(tmp_path / "a.gz", FIXTURE.read_text())
    load, rows, bad = _stage([(LEGACY_KEY, path)])
    assert (load.requests, load.quarantined, bad) == (6, 0, [])
    first, favicon = rows[0], rows[3]
    assert first["usage_date"] == date(2019, 12, 4)
    assert first["request_time"] == datetime(2019, 12, 4, 21, 2, 31)
    assert first["distribution_id"] == "EMLARXS9EXAMPLE"  # from the file name
    assert (first["edge_location"], first["edge_region"]) == ("LAX1", "US")
    assert (first["bytes_sent"], first["status"], first["protocol"]) == (392, 200, "https")
    assert (first["uri_stem"], first["query"], first["referer"]) == ("/index.html", None, None)
    assert first["user_agent"] == CHROME  # %20 decoded once
    assert first["host"] == "d111111abcdef8.cloudfront.net"
    assert (first["time_taken"], first["time_to_first_byte"]) == (0.001, 0.001)
    assert (first["edge_result_type"], first["edge_detailed_result_type"]) == ("Hit", "Hit")
    assert (first["content_type"], first["user_id"], first["source_line"]) == ("text/html", "_shared", 3)
    assert favicon["request_time"] == datetime(2019, 12, 13, 22, 36, 27)
    assert (favicon["edge_location"], favicon["status"], favicon["bytes_sent"]) == ("SEA19-C1", 502, 900)
    assert (favicon["host"], favicon["referer"]) == ("www.example.com", "http://www.example.com/")
    assert (favicon["edge_result_type"], favicon["edge_detailed_result_type"]) == ("Error", "OriginDnsError")
    assert favicon["protocol"] == "http" and favicon["time_to_first_byte"] == 0.102
    assert [r["source_line"] for r in rows] == [3, 4, 5, 6, 7, 8]
    assert sum(r["bytes_sent"] for r in rows) == 3 * 392 + 3 * 900


def test_fields_found_by_name_in_the_header(tmp_path):
    """A reordered, shorter field list (v2 W3C output with selected fields) reads by name."""
    text = "#Version: 1.0\n#Fields: sc-bytes cs-uri-stem time date x-edge-location\n"
    text += "1234\t/users/1001/a.jpg\t10:00:00\t2026-12-05\tFRA56-P1\n"
    load, rows, _ = _stage([("cloudfront/E1ABCDEF.2026-12-05-10.X1.gz", _gz(tmp_path / "b.gz", text))])
    (row,) = rows
    assert (row["bytes_sent"], row["user_id"], row["edge_region"]) == (1234, "1001", "EU")
    assert row["request_time"] == datetime(2026, 12, 5, 10, 0, 0)
    assert (row["status"], row["referer"], row["time_to_first_byte"]) == (None, None, None)


def test_bad_lines_quarantined_with_file_and_line(tmp_path):
    good = FIXTURE.read_text().splitlines()
    lines = [*good[:3], "2019-12-04\t21:02:31\tLAX1\t392", good[3].replace("\t392\t", "\tabc\t", 1)]
    lines += [good[4].replace("2019-12-04", "2019-13-04", 1), "", good[5]]
    a = _gz(tmp_path / "a.gz", "\n".join(lines) + "\n")
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"#Version: 1.0\n" * 50)[:30])
    c = _gz(tmp_path / "c.gz", "#Version: 1.0\n" + good[2] + "\n")
    files = [
        (LEGACY_KEY, a),
        ("cloudfront/E2.2019-12-04-21.B.gz", str(broken)),
        ("cloudfront/E3.2019-12-04-21.C.gz", c),
    ]
    load, rows, bad = _stage(files)
    assert [(r["source_file"], r["source_line"]) for r in rows] == [(LEGACY_KEY, 3), (LEGACY_KEY, 8)]
    assert [(f, n, why) for f, n, _, why in bad] == [
        ("cloudfront/E2.2019-12-04-21.B.gz", 0, "file cannot be read as a CloudFront log (damaged gzip or "
         "Parquet, or not a log file)"),
        ("cloudfront/E3.2019-12-04-21.C.gz", 2, "no #Fields header line in the file"),
        (LEGACY_KEY, 4, "wrong field count: 4 fields, the #Fields header names 33"),
        (LEGACY_KEY, 5, "unparsable number in sc-bytes"),
        (LEGACY_KEY, 6, "unparsable date and time"),
    ]  # fmt: skip
    assert bad[2][2] == "2019-12-04\t21:02:31\tLAX1\t392"
    assert load.unreadable_files == ["cloudfront/E2.2019-12-04-21.B.gz"]


def test_uri_decoded_once_and_query_ignored(tmp_path):
    record = _records()[0]
    cases = [
        ("/users/1001/photos/100%2525%2520off.jpg", "-"),  # a key that itself contains %25 and %20
        ("/users/1002/caf%C3%A9%20%231.png", "u=users/1003/x"),  # the query names another user
        ("/avatars/1004.png", "-"),
        ("/users/1005/bad%ZZ.jpg", "-"),  # not valid encoding: kept as written, like url_decode does
        ("/users/1006/bad%C3.jpg", "-"),  # invalid UTF-8 once decoded: quarantined
    ]
    body = "".join(
        "\t".join({**record, "cs-uri-stem": uri, "cs-uri-query": q}[f] for f in FIELDS) + "\n"
        for uri, q in cases
    )
    _, rows, bad = _stage([(LEGACY_KEY, _gz(tmp_path / "a.gz", "\n".join(HEADER) + "\n" + body))])
    assert [(r["uri_stem"], r["user_id"], r["query"]) for r in rows] == [
        ("/users/1001/photos/100%25%20off.jpg", "1001", None),
        ("/users/1002/café #1.png", "1002", "u=users/1003/x"),
        ("/avatars/1004.png", "_shared", None),
        ("/users/1005/bad%ZZ.jpg", "1005", None),
    ]
    assert [(n, why) for _, n, _, why in bad] == [
        (7, "undecodable cs-uri-stem (invalid URL encoding or UTF-8)")
    ]


def test_unknown_edge_code_kept_as_unknown(tmp_path):
    record = _records()[0]
    lines = [
        "\t".join({**record, "x-edge-location": edge}[f] for f in FIELDS)
        for edge in ("XQZ9-C1", "NRT57-P2", "-")
    ]
    _, rows, _ = _stage([(LEGACY_KEY, _gz(tmp_path / "a.gz", "\n".join([*HEADER, *lines]) + "\n"))])
    assert [(r["edge_location"], r["edge_region"]) for r in rows] == [
        ("XQZ9-C1", "unknown"), ("NRT57-P2", "JP"), (None, "unknown")
    ]  # fmt: skip


SELECTED = ["date", "time", "x-edge-location", "sc-bytes", "cs-uri-stem", "sc-status", "x-edge-result-type",
            "cs-protocol", "time-to-first-byte"]  # fmt: skip
V2_PREFIX = "cloudfront/v2/DistributionId=E9V2EXAMPLE/year=2019/month=12/day=04/hour=21"


def _v2_rows():
    rows = []
    for record in _records():
        row = {f: record[f] for f in SELECTED}
        row["cs-uri-stem"] = "/users/1001 x/" + row["cs-uri-stem"].lstrip(
            "/"
        )  # v2 values are not URL-encoded
        rows.append(row)
    return rows


def test_v2_json_lines_under_hive_partitions(tmp_path):
    rows = _v2_rows()
    rows[1] = {k.lower(): v for k, v in rows[1].items()}  # spelt in lower case
    text = "".join(json.dumps(r) + "\n" for r in rows[:3]) + "{not json\n" + json.dumps(rows[3]) + "\n"
    key = f"{V2_PREFIX}/E9V2EXAMPLE_2019-12-04-21_abcd.json.gz"
    load, staged, bad = _stage([(key, _gz(tmp_path / "v2.json.gz", text))])
    assert load.requests == 4 and [(n, why) for _, n, _, why in bad] == [(4, "not valid JSON")]
    first = staged[0]
    assert (first["distribution_id"], first["edge_region"], first["bytes_sent"]) == ("E9V2EXAMPLE", "US", 392)
    assert (first["uri_stem"], first["user_id"]) == ("/users/1001 x/index.html", "_shared")
    assert (first["request_time"], first["time_to_first_byte"]) == (datetime(2019, 12, 4, 21, 2, 31), 0.001)
    assert (first["referer"], first["user_agent"], first["client_ip"], first["host"]) == (
        None,
        None,
        None,
        None,
    )
    assert staged[1]["bytes_sent"] == 392
    assert [r["source_line"] for r in staged] == [1, 2, 3, 5]


def test_v2_parquet_under_hive_partitions(tmp_path):
    rows = [{k.replace("-", "_"): v for k, v in r.items()} for r in _v2_rows()]
    rows[0]["cs_uri_stem"] = "/users/1001/a.jpg"
    path = tmp_path / "p.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    key = f"{V2_PREFIX}/E9V2EXAMPLE_2019-12-04-21_abcd.parquet"
    load, staged, bad = _stage([(key, str(path))])
    assert (load.requests, bad) == (6, [])
    assert (staged[0]["user_id"], staged[0]["distribution_id"], staged[0]["source_line"]) == (
        "1001",
        "E9V2EXAMPLE",
        1,
    )
    assert [r["status"] for r in staged] == [200, 200, 200, 502, 502, 502]
    assert staged[5]["request_time"] == datetime(2019, 12, 13, 22, 37, 2)
    assert staged[5]["referer"] is None


def test_file_hours_and_the_files_each_day_reads():
    assert file_hour(LEGACY_KEY) == datetime(2019, 12, 4, 21)
    assert file_hour(f"{V2_PREFIX}/x.parquet") == datetime(2019, 12, 4, 21)
    assert file_hour("cloudfront/E1/2026/12/05/13/x.json.gz") == datetime(2026, 12, 5, 13)
    assert (file_distribution(LEGACY_KEY), file_distribution(f"{V2_PREFIX}/x.parquet")) == (
        "EMLARXS9EXAMPLE", "E9V2EXAMPLE"
    )  # fmt: skip
    keys = [
        f"cloudfront/E1.2026-12-0{d}-{h:02d}.U.gz"
        for d, h in ((4, 22), (4, 23), (5, 0), (5, 23), (6, 5), (7, 0))
    ]
    keys.append("cloudfront/undated.json")
    picked = files_for_days(keys, [date(2026, 12, 5)])[date(2026, 12, 5)]
    assert picked == [keys[1], keys[2], keys[3], keys[4], "cloudfront/undated.json"]


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path):
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)
