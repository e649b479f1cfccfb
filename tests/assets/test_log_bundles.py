"""Small log objects parsed as bundles give exactly the records and bad lines of parsing each object alone."""

from __future__ import annotations

import duckdb
import pytest

from assets.raw import log_bundles
from bucketlens.formats.access_log import stage_access_log_records
from bucketlens.formats.errors import SourceFormatError
from bucketlens.keys import KeyPattern
from tests.formats.test_access_log import line

OBJECTS = {  # key -> bytes
    "access-logs/2026-10-01-00-10-00-A": (
        line(request_id="A1") + "\n" + line(request_id="A2") + "\n"
    ).encode(),
    # blank lines, CRLF, a garbled line and a bad timestamp: numbered as in the object
    "access-logs/2026-10-01-00-20-00-B": "\r\n".join(
        [
            line(request_id="B1"),
            "",
            "this is not an access log line",
            "   ",
            line(request_id="B5", when="31/Foo/2019:00:00:00 +0000"),
            line(request_id="B6"),
        ]
    ).encode()
    + b"\r\n",  # fmt: skip
    "access-logs/2026-10-01-00-30-00-C": line(request_id="C1").encode(),  # no newline at the end
    "access-logs/2026-10-01-00-40-00-D": b"",  # empty
    "access-logs/2026-10-01-00-50-00-E": (line(request_id="E1") + "\n").encode()
    + line(request_id="E2", ua='"x@"').encode().replace(b"@", b"\xff\xfe")
    + b"\n",  # not UTF-8: parsed alone
    "access-logs/2026-10-01-01-00-00-F": "\n".join(line(request_id=f"F{i}") for i in range(40)).encode(),
    "access-logs/2026-10-01-01-10-00-G": ("\n" * 3 + line(request_id="G4") + "\n").encode(),
}


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _write(tmp_path) -> list[tuple[str, str]]:
    files = []
    for key, data in OBJECTS.items():
        path = tmp_path / key.rsplit("/", 1)[1]
        path.write_bytes(data)
        files.append((key, str(path)))
    return files


def _alone_and_bundled(con, tmp_path, files):
    stage_access_log_records(con, files, KeyPattern(), "alone", "alone_quarantine")
    bundle_dir = tmp_path / "bundles"
    bundle_dir.mkdir()
    bundles = log_bundles.bundle_objects(files, bundle_dir)
    stage_access_log_records(con, bundles.files, KeyPattern(), "bundled", "bundled_quarantine")
    log_bundles.create_bundle_map(con, bundles)
    records = con.execute(log_bundles.unbundled("bundled", "source_file", "source_line")).fetchall()
    quarantine = con.execute(log_bundles.unbundled("bundled_quarantine", "file", "line_number")).fetchall()
    return bundles, records, quarantine


@pytest.mark.parametrize("small", [log_bundles.SMALL_OBJECT_BYTES, 4_000])  # F (40 lines) bundled or not
def test_bundled_objects_parse_to_the_records_and_lines_of_each_object_alone(
    con, tmp_path, monkeypatch, small
):
    monkeypatch.setattr(log_bundles, "SMALL_OBJECT_BYTES", small)
    monkeypatch.setattr(log_bundles, "BUNDLE_BYTES", 2_000)  # several bundles
    bundles, records, quarantine = _alone_and_bundled(con, tmp_path, _write(tmp_path))

    assert sorted(records, key=repr) == sorted(con.execute("SELECT * FROM alone").fetchall(), key=repr)
    assert sorted(quarantine) == sorted(con.execute("SELECT * FROM alone_quarantine").fetchall())
    passed_alone = {name for name, _ in bundles.files if not name.startswith("\x00")}
    expected_alone = {"access-logs/2026-10-01-00-50-00-E"} | (
        {"access-logs/2026-10-01-01-00-00-F"} if small == 4_000 else set()
    )
    assert passed_alone == expected_alone  # the non-UTF-8 object, and F when it is not small
    assert len(bundles.files) - len(passed_alone) >= 2  # the rest in several bundles
    lines = {(f, n) for f, n, *_ in quarantine}
    assert ("access-logs/2026-10-01-00-20-00-B", 3) in lines and (
        "access-logs/2026-10-01-00-20-00-B",
        5,
    ) in lines
    assert ("access-logs/2026-10-01-00-50-00-E", 2) in lines  # invalid UTF-8, decided for E alone
    g4 = [r for r in records if r[4] == "G4"]
    assert [(r[-3], r[-2]) for r in g4] == [("access-logs/2026-10-01-01-10-00-G", 4)]


def test_a_missing_object_is_named(tmp_path):
    with pytest.raises(SourceFormatError, match="^access-logs/x: log object not found at"):
        log_bundles.bundle_objects([("access-logs/x", str(tmp_path / "x"))], tmp_path)


def test_a_bundle_line_no_object_holds_fails_instead_of_naming_the_bundle(con, tmp_path):
    """The map holds every line the bundle was written with; a parsed line beyond them (which would mean
    the parser numbered lines differently) stops the statement rather than load a bundle's name."""
    files = _write(tmp_path)[:1]  # object A: two lines
    bundles = log_bundles.bundle_objects(files, tmp_path)
    log_bundles.create_bundle_map(con, bundles)
    assert con.execute(f"SELECT line, key, line_offset FROM {log_bundles.MAP} ORDER BY line").fetchall() == [
        (1, "access-logs/2026-10-01-00-10-00-A", 0),
        (2, "access-logs/2026-10-01-00-10-00-A", 0),
    ]
    bundle = bundles.files[0][0]
    con.execute("CREATE TABLE parsed AS SELECT * FROM (VALUES (?, 2), (?, 3), ('access-logs/big', 7)) t(f, n)",
                [bundle, bundle])  # fmt: skip
    with pytest.raises(
        duckdb.InvalidInputException, match="access-log bundle line 3 is in no bundled object"
    ):
        con.execute(log_bundles.unbundled("parsed", "f", "n")).fetchall()
    con.execute("DELETE FROM parsed WHERE n = 3")
    assert sorted(con.execute(log_bundles.unbundled("parsed", "f", "n")).fetchall()) == [
        ("access-logs/2026-10-01-00-10-00-A", 2),
        ("access-logs/big", 7),
    ]
