"""The runtime parser equals the one it replaced (issue 16, item 2), line for line.

``tests/formats/reference_access_log.py`` is the previous implementation (string splitting over lines
read by DuckDB's CSV scanner, with issue 14's defect-8 grammar), kept here only as the reference.
Both parse the same log objects; their records (every column), quarantine (file, line, text, reason),
load counts, the day's deduplicated stage and ``stage_first_seen`` must be identical: on every shape
the existing tests use, AWS's published examples, a corpus of edge cases (times, quotes, escapes,
encodings, numbers, line endings, whitespace, invalid UTF-8) and generated log objects with those
edge cases injected (20 k lines here, 1 M lines with ``-m slow``).
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path

import pytest

from benchmarks.access_log_data import generate_access_logs
from bucketlens.formats import access_log as runtime
from bucketlens.formats import access_log_reader
from bucketlens.formats.access_log_dedupe import stage_first_seen
from bucketlens.keys import KeyPattern
from tests.formats import reference_access_log as reference

DAY = datetime.date(2019, 2, 6)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aws"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
TAIL_27 = "- HOSTID= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader b.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1"


@pytest.fixture(params=["scanned", "read whole"])
def reader(request, monkeypatch):
    """Run a test with every object read by the CSV scanner (large objects) and again with every
    object read whole (small ones, and the fallback): both must give the reference's rows."""
    monkeypatch.setattr(access_log_reader, "SCAN_BYTES", 0 if request.param == "scanned" else 1 << 62)
    return request.param


def rec(
    op="REST.GET.OBJECT",
    key="users/1001/a.jpg",
    *,
    when="06/Feb/2019:12:00:00 +0000",
    rid="REQ1",
    uri='"GET /b/x HTTP/1.1"',
    status="200",
    ip="192.0.2.3",
    numbers="- 100 200 10 5",
    referrer='"-"',
    ua='"aws-cli/2.0"',
    tail=" " + TAIL_27,
    time=None,
) -> str:
    stamp = time if time is not None else f"[{when}]"
    return (
        f"{OWNER} b {stamp} {ip} arn:aws:iam::123456789012:user/app {rid} {op} {key} "
        f"{uri} {status} {numbers} {referrer} {ua}{tail}"
    )


def batch(
    key="users/1001/old+photo.jpg", rid="B1", tail=" - HOSTID= SigV4 C AuthHeader h TLSv1.2 - -"
) -> str:
    """A BATCH.DELETE.OBJECT line as AWS writes it: request-URI, referrer and user agent unquoted '-'."""
    return rec("BATCH.DELETE.OBJECT", key, rid=rid, uri="-", status="204", referrer="-", ua="-", tail=tail)


def edge_lines() -> list[str]:
    """Every line shape of tests/formats/test_access_log.py, and more that a hostile or broken
    log could contain; each is a record, a quarantined line or a blank line for both parsers."""
    lines = [
        rec(),
        rec(tail=""),
        rec(tail=" 3HL4kqtJvjVBH40Nrjfkd"),
        rec(tail=" - HOSTID= SigV4 ECDHE-RSA-AES128-SHA AuthHeader b.s3.amazonaws.com TLSv1.2"),
        rec(tail=" - HOSTID= SigV4 ECDHE-RSA-AES128-SHA AuthHeader b.s3.amazonaws.com TLSv1.2 "),
        rec(tail=" " + TAIL_27 + " future-28 future-29"),
        rec(tail=" "),
        rec(tail="  "),
        rec(tail=" -  - x"),
        rec(tail="\t- x"),
        # quoted fields: escapes, backslashes, dashes, empties
        rec(ua=r'"Mozilla/5.0 (X11) \"quoted\" it' 's; DROP TABLE users; --"'),
        rec(uri=r'"GET /b/x?q=\"a b\" HTTP/1.1"', ua='"a \\"b\\" c"'),
        rec(ua='"' + r"\"x\" " * 12 + '"'),
        rec(ua=r'"a\b"'),
        rec(ua=r'"a\\"'),
        rec(ua=r'"a\"'),
        rec(ua=r'"\\"'),
        rec(uri=r'"GET /x\ HTTP/1.1"'),
        rec(referrer=r'"http://x/\"y\""'),
        rec(referrer='""', ua='""'),
        rec(uri='"-"', referrer='"-"', ua='"-"'),
        rec(uri='"-"', referrer="-", ua="-"),
        rec(uri="-", referrer='"-"', ua="-"),
        rec(uri="-", referrer="-", ua='"curl/8.0"'),
        rec(uri='"GET /x HTTP/1.1"', referrer="-", ua='"curl/8.0"'),
        rec(ua="curl/8.0"),
        rec(ua='"unterminated'),
        rec(ua='"a"b'),
        rec(uri='"GET /x HTTP/1.1""', ua='"x"'),
        rec(ua='"caf\u00e9 \U0001f600 \u00fcml\u00e4ut"'),
        rec(ua='"nul\x00and\x01ctrl"'),
        # unquoted fields with quotes or odd characters
        rec(key='users/1001/a"b.jpg'),
        rec(key='"users/1001/q.jpg"'),
        rec(tail=' - "HOSTID" SigV4'),
        rec(tail=' - HOSTID= "Sig V4"'),
        rec(ip="192.0.2.3\t"),
        # the BATCH.DELETE.OBJECT / lifecycle shapes (defect 8)
        batch(),
        batch("users/1001/caf%C3%A9+menu.jpg", "B2"),
        batch("users/1002/100%25+done.png", "B3"),
        batch(tail=""),
        batch(tail=" "),
        batch(tail="  x"),
        batch(tail=" - - - - - - - - - - - -"),
        rec("S3.EXPIRE.OBJECT", "users/1002/expired.jpg", rid="E1", uri='"-"', status="-", ip="-"),
        rec(
            "S3.EXPIRE.OBJECT", "users/1003/old+video.mov", uri="-", status="-", ip="-", referrer="-", ua="-"
        ),
        rec("S3.TRANSITION_SIA.OBJECT", "users/1003/cold.jpg", rid="T1", uri='"-"', status="-", ip="-"),
        rec("REST.POST.MULTI_OBJECT_DELETE", "-", uri='"POST /b?delete HTTP/1.1"'),
        # keys: encoded twice (REST) or once, form-style (others)
        rec(key="users/1001/my%2520photo.jpg"),
        rec(key="users/1001/a%252Bb.jpg"),
        rec(key="users/1001/a+b.jpg"),
        rec(key="users/1001/100%2525.jpg"),
        rec(key="users/1001/caf%25C3%25A9.jpg"),
        rec(key="users/1001/caf%C3%A9.jpg"),
        rec(key="users/1001/%25FF.jpg"),
        rec(key="users/1001/%zz.jpg"),
        rec(key="users/1001/x%"),
        rec(key="users/1001%25252F..%25252F1002/x"),
        rec(key="users/1001%252F..%252F1002/x"),
        rec(key="users/../x"),
        rec(key="Users/1001/x"),
        rec(key="-"),
        rec("BATCH.DELETE.OBJECT", "users/1001/100%25.jpg", uri="-"),
        rec("BATCH.DELETE.OBJECT", "users/1001/a%2Bb.jpg", uri="-"),
        rec("BATCH.DELETE.OBJECT", "users/1001/%FF.jpg", uri="-"),
        rec("S3.EXPIRE.OBJECT", "users/1001/caf%C3%A9+1.jpg"),
        # times
        rec(when="07/Feb/2019:00:30:00 +0100"),
        rec(when="05/Feb/2019:20:00:00 -0500"),
        rec(when="31/Feb/2019:00:00:00 +0000"),
        rec(when="06/Feb/2019:24:00:00 +0000"),
        rec(when="06/Feb/2019:23:59:60 +0000"),
        rec(when="6/Feb/2019:1:2:3 +0000"),
        rec(when="06/feb/2019:00:00:00 +0000"),
        rec(when="06/FEB/2019:00:00:00 +0000"),
        rec(when="06/Feb/0001:00:00:00 +0000"),
        rec(when="06/Feb/99999:00:00:00 +0000"),
        rec(when="06/Feb/2019:00:00:00 +00:00"),
        rec(when="06/Feb/2019:00:00:00 Z"),
        rec(when="06/Feb/2019:00:00:00 +0000x"),
        rec(when="31/Foo/2019:00:00:00 +0000"),
        rec(time="[06/Feb/2019:00:00:00]"),
        rec(time="[06/Feb/2019:00:00:00  +0000]"),
        rec(time="[06/Feb/2019:00:00:00 +0000]]"),
        rec(time="[06/Feb]2019:00:00:00 +0000]"),
        rec(time="06/Feb/2019:00:00:00 +0000"),
        rec(time="[06/Feb/2019:00:00:00 +0000] [x"),
        # numbers
        rec(status="2OO"),
        rec(status="+200"),
        rec(status="-5"),
        rec(numbers="- 1e3 200 10 5"),
        rec(numbers="- 0x10 200 10 5"),
        rec(numbers="- 99999999999999999999 200 10 5"),
        rec(numbers="- 1.5 200 10 5"),
        rec(numbers="- 100 200 10 -"),
        rec(numbers="- 100 200 - 5x"),
        rec(numbers="NoSuchKey - - - -"),
        # structure
        rec().replace(" b [", "  b [", 1),
        " " + rec(),
        rec() + "   ",
        rec().replace(f"{OWNER} b ", f"{OWNER} ", 1),
        rec(tail="").rsplit(" ", 1)[0],
        '"',
        '""',
        '"-" "-"',
        "-",
        "\ufeff" + rec(),  # a byte-order mark inside a file is part of the owner field
        "this is not an access log line",
        "x" * 5000,
        "y " * 3000,
        "",
        "   ",
        "\t",
        " \t ",
        "\r",
        "\r\r",
        rec() + "\r",
        rec() + "\r\r",
        rec().replace(" 200 ", " 200\r", 1),
    ]
    return lines


def test_a_leading_byte_order_mark_is_dropped_by_every_reader(con, reader, tmp_path):
    """A file's leading byte-order mark is dropped, whichever reader reads the file (the CSV scanner
    drops it itself; whole-file reads drop it too). The previous implementation kept it when another
    file of the same batch forced it to read every file whole: the one place the two differ."""
    alone = [write(tmp_path, "bom.log", ("\ufeff" + rec(rid="BOM1") + "\n").encode())]
    with_crlf = alone + [write(tmp_path, "crlf.log", (rec(rid="CR1") + "\r\n").encode())]
    for files in (alone, with_crlf):
        runtime.stage_access_log_records(con, files, KeyPattern(), "bom_records", "bom_quarantine")
        assert con.execute(
            "SELECT request_id, bucket_owner, source_line FROM bom_records ORDER BY 1"
        ).fetchall() == [("BOM1", OWNER, 1), *([("CR1", OWNER, 1)] if len(files) == 2 else [])]


def compare(con, files: list[tuple[str, str]], day: datetime.date = DAY) -> runtime.AccessLogLoad:
    """Run both parsers on ``files``; assert identical records, quarantine, counts, the day's stage
    and first-seen rows; return the runtime parser's record load."""
    pattern = KeyPattern()
    names = [name for name, _ in files]
    ours = runtime.stage_access_log_records(con, files, pattern, "ours_records", "ours_quarantine")
    theirs = reference.stage_access_log_records(con, files, pattern, "ref_records", "ref_quarantine")
    assert vars(ours) == vars(theirs)  # two AccessLogLoad classes, the same counts
    assert_same_rows(con, "ours_records", "ref_records")
    assert_same_quarantine(con, "ours_quarantine", "ref_quarantine")

    ours_day = runtime.stage_access_logs(con, files, day, pattern, "ours_stage", "ours_day_quarantine")
    theirs_day = reference.stage_access_logs(con, files, day, pattern, "ref_stage", "ref_day_quarantine")
    assert vars(ours_day) == vars(theirs_day)
    assert_same_rows(con, "ours_stage", "ref_stage")
    assert_same_quarantine(con, "ours_day_quarantine", "ref_day_quarantine")

    assert stage_first_seen(con, "ours_records", "ours_first", day, names) == reference.stage_first_seen(
        con, "ref_records", "ref_first", day, names
    )
    assert_same_rows(con, "ours_first", "ref_first")
    return ours


def assert_same_rows(con, ours: str, theirs: str) -> None:
    """Same columns and the same multiset of rows (NULLs equal); counted in DuckDB, so a million
    rows compare without fetching them."""
    describe = "SELECT column_name, column_type FROM (DESCRIBE {})"
    assert con.execute(describe.format(ours)).fetchall() == con.execute(describe.format(theirs)).fetchall()
    counts = con.execute(
        f"SELECT (SELECT count(*) FROM {ours}), (SELECT count(*) FROM {theirs}), "
        f"(SELECT count(*) FROM (SELECT * FROM {ours} EXCEPT ALL SELECT * FROM {theirs})), "
        f"(SELECT count(*) FROM (SELECT * FROM {theirs} EXCEPT ALL SELECT * FROM {ours}))"
    ).fetchall()[0]
    assert counts[0] == counts[1] and counts[2:] == (0, 0), f"{ours} vs {theirs}: {counts}"


def assert_same_quarantine(con, ours: str, theirs: str) -> None:
    """The quarantine is small and kept in file order, then line: compare it row by row, in order."""
    query = "SELECT file, line_number, raw_text, reason FROM {} ORDER BY rowid"
    assert con.execute(query.format(ours)).fetchall() == con.execute(query.format(theirs)).fetchall()


def write(tmp_path: Path, name: str, data: bytes) -> tuple[str, str]:
    path = tmp_path / name.replace("/", "_")
    path.write_bytes(data)
    return (f"access-logs/{name}", str(path))


def test_aws_examples_parse_identically(con, reader):
    files = [
        ("access-logs/doc.log", str(FIXTURES / "access-log-aws-doc-examples.log")),
        ("access-logs/doc27.log", str(FIXTURES / "access-log-aws-doc-examples-27-fields.log")),
    ]
    load = compare(con, files)
    assert (load.lines, load.parsed, load.quarantined) == (7, 7, 0)


def test_edge_cases_parse_identically(con, reader, tmp_path):
    lines = edge_lines()
    files = [
        write(tmp_path, "lf.log", ("\n".join(lines) + "\n").encode()),
        write(tmp_path, "crlf.log", ("\r\n".join(lines) + "\r\n").encode()),
        write(tmp_path, "no-final-newline.log", "\n".join(lines).encode()),
        write(tmp_path, "repeats.log", ("\n".join(reversed(lines)) + "\n\n\n").encode()),
        write(tmp_path, "empty.log", b""),
        write(tmp_path, "newline.log", b"\n"),
    ]
    load = compare(con, files)
    # 117 corpus lines, 6 of them blank: 111 non-blank lines in each of the four non-empty files,
    # 76 records and 35 quarantined each (LF, CRLF and a missing final newline change nothing)
    assert (len(lines), load.lines, load.parsed, load.quarantined) == (117, 4 * 111, 4 * 76, 4 * 35)


def test_invalid_utf8_is_quarantined_identically(con, reader, tmp_path):
    good = rec(rid="OK1")
    bad = rec(rid="BIN", ua='"@"').replace("@", "\udcff")
    files = [
        write(
            tmp_path, "bin.log", (good + "\n" + bad + "\n" + good + "\r\n").encode("utf-8", "surrogateescape")
        ),
        write(tmp_path, "ok.log", ("\n".join(edge_lines()) + "\n").encode()),
    ]
    load = compare(con, files)
    # bin.log: line 2 quarantined as invalid UTF-8, lines 1 and 3 records; ok.log as above
    assert (load.lines, load.parsed, load.quarantined) == (3 + 111, 2 + 76, 1 + 35)
    assert con.execute(
        "SELECT line_number, reason FROM ours_quarantine WHERE file LIKE '%bin.log'"
    ).fetchall() == [(2, "invalid UTF-8 text")]


def generated_with_edge_cases(root: Path, records: int, every: int, seed: int = 16) -> list[tuple[str, str]]:
    """Bench-generator log objects (day 2026-10-01) with the edge-case corpus injected every
    ``every`` lines at seeded positions, dates moved onto the generated day."""
    logs = generate_access_logs(
        root / "src", datetime.date(2026, 10, 1), records, lines_per_object=max(records // 3, 1)
    )
    corpus = [line.replace("06/Feb/2019", "01/Oct/2026") for line in edge_lines()]
    rng = random.Random(seed)
    files = []
    for key, path in logs.files:
        original = Path(path).read_bytes().split(b"\n")
        out: list[bytes] = []
        for i, text in enumerate(original):
            out.append(text)
            if i % every == every - 1:
                out.append(rng.choice(corpus).encode())
        files.append(write(root, key.replace("/", "_"), b"\n".join(out)))
    return files


def test_generated_logs_with_edge_cases_parse_identically(con, reader, tmp_path):
    files = generated_with_edge_cases(tmp_path, 20_000, every=50)
    load = compare(con, files, datetime.date(2026, 10, 1))
    # 20,000 records + 100 repeated deliveries + 402 injected lines (15 of them blank); 4 broken
    # generated lines and 123 injected ones quarantined
    assert (load.files, load.lines, load.parsed, load.quarantined) == (4, 20_487, 20_360, 127)


@pytest.mark.slow
def test_a_million_generated_lines_with_edge_cases_parse_identically(con, tmp_path):
    files = generated_with_edge_cases(tmp_path, 1_000_000, every=200)
    load = compare(con, files, datetime.date(2026, 10, 1))
    assert load.lines > 1_000_000 and load.quarantined > 1_000
