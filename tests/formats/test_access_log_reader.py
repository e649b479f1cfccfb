"""How access-log objects are read: large objects really are scanned (several to a statement, never
more scans than the memory allows), and only an object the scanner cannot read goes to the fallback."""

from __future__ import annotations

import duckdb
import pytest

from bucketlens.formats import access_log_reader
from bucketlens.formats.access_log import stage_access_log_records
from bucketlens.keys import KeyPattern
from tests.formats.test_access_log import line


def test_statements_hold_at_most_max_scans_scans_and_max_branches_branches(monkeypatch):
    monkeypatch.setattr(access_log_reader, "MAX_BRANCHES", 3)
    branches = [("scan", [1]), ("whole", [2, 3]), ("scan", [4]), ("scan", [5]), ("whole", [6]),
                ("whole", [7]), ("whole", [8]), ("scan", [9])]  # fmt: skip
    statements = access_log_reader._statements(branches, max_scans=2)
    assert statements == [
        [("scan", [1]), ("whole", [2, 3]), ("scan", [4])],
        [("scan", [5]), ("whole", [6]), ("whole", [7])],
        [("whole", [8]), ("scan", [9])],
    ]
    assert [b for s in statements for b in s] == branches  # every branch once, in file order


def test_large_objects_are_scanned_without_the_fallback(tmp_path, monkeypatch):
    """A statement of scans only used to name a parameter only whole reads use, which DuckDB refuses:
    every large object then went to the one-object-at-a-time fallback. Now the fallback is not called."""
    monkeypatch.setattr(access_log_reader, "SCAN_BYTES", 0)  # every object is large

    def no_fallback(*_args, **_kwargs):
        raise AssertionError("read whole: the scan failed")

    monkeypatch.setattr(access_log_reader, "_read_whole", no_fallback)
    files = []
    for n in range(5):  # more scans than one statement takes (2 threads: 4)
        path = tmp_path / f"log-{n}"
        path.write_text("".join(line(request_id=f"R{n}-{i}") + "\n" for i in range(3)))
        files.append((f"access-logs/log-{n}", str(path)))
    con = duckdb.connect()
    con.execute("SET threads = 2")
    stage_access_log_records(con, files, KeyPattern(), "records", "quarantine")
    rows = con.execute("SELECT source_file, source_line, request_id FROM records ORDER BY 1, 2").fetchall()
    assert rows == [(f"access-logs/log-{n}", i + 1, f"R{n}-{i}") for n in range(5) for i in range(3)]


def test_an_object_the_scanner_cannot_read_is_read_whole(tmp_path, monkeypatch):
    """A carriage return makes the scanner refuse the object; it is then read whole, alone."""
    monkeypatch.setattr(access_log_reader, "SCAN_BYTES", 0)
    read_whole = []
    real = access_log_reader._read_whole
    monkeypatch.setattr(
        access_log_reader,
        "_read_whole",
        lambda con, index, *a: read_whole.append(index) or real(con, index, *a),
    )
    clean, crlf = tmp_path / "clean", tmp_path / "crlf"
    clean.write_text(line(request_id="A") + "\n")
    crlf.write_bytes((line(request_id="B") + "\r\n").encode())
    con = duckdb.connect()
    stage_access_log_records(con, [("clean", str(clean)), ("crlf", str(crlf))], KeyPattern(), "r", "q")
    assert read_whole == [2]
    assert con.execute("SELECT source_file, request_id FROM r ORDER BY 1").fetchall() == [
        ("clean", "A"),
        ("crlf", "B"),
    ]


@pytest.mark.parametrize("exc", [duckdb.OutOfMemoryException, duckdb.InvalidInputException])
def test_a_statement_duckdb_refuses_or_cannot_fit_is_retried(monkeypatch, exc):
    class Con:
        def execute(self, *_args):
            raise exc("no")

    assert access_log_reader._insert_branches(Con(), [("scan", [1])], ["a"], ["/a"], "t", "u") is False
