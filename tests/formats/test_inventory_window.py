"""A window's inventory manifests staged with one read per layout equal each manifest staged on its own."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import date

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from bucketlens.formats.errors import SourceFormatError
from bucketlens.formats.inventory import STAGE_DDL, stage_inventory
from bucketlens.formats.inventory_window import DayManifest, stage_inventory_window
from bucketlens.keys import KeyPattern
from tests.formats.test_inventory import (
    CSV_COLUMNS,
    CSV_ROWS,
    T,
    arrow_table,
    csv_line,
    manifest,
    manifest_file,
    write_csv_gz,
)

DAYS = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 2)]
BAD_CSV_ROWS = [
    ["photos", "users/1001/bad-size.jpg", "", "", "", "12x", T, "e", "STANDARD"],
    ["photos", "users/1001/%FF%FE.jpg", "", "", "", "1", T, "e", "STANDARD"],
    ["photos", None, "v9", "true", "false", "1", T, "e", "STANDARD"],  # an empty key
]


def _manifest(day: date, bucket: str, fmt: str, columns, files):
    return replace(manifest(fmt, columns, files), key=f"inventory/{bucket}/daily/{day}T01-00Z/manifest.json")


@pytest.fixture
def window(tmp_path) -> list[DayManifest]:
    """Three days across a month boundary: CSV manifests (two buckets on a day, a manifest of two files,
    bad values, a short line, undecodable and empty keys), Parquet (two files, a value that does not
    cast) and ORC."""
    out = []
    for i, day in enumerate(DAYS[:2]):
        files, local = [], {}
        for j, rows in enumerate([CSV_ROWS, [*CSV_ROWS[:2], *BAD_CSV_ROWS]][: 2 - i]):
            path = tmp_path / f"{day}-{j}.csv.gz"
            files.append(write_csv_gz(path, rows, members=2))
            local[files[-1].key] = str(path)
        if i == 0:  # a truncated line in a second gzip member of the first file
            with open(local[files[0].key], "ab") as handle:
                handle.write(gzip.compress(b'"photos","users/1001/short"\n'))
            files[0] = manifest_file(tmp_path / files[0].key, files[0].key)
        out.append(DayManifest(day, _manifest(day, "photos", "CSV", CSV_COLUMNS, files), local))
    other = write_csv_gz(tmp_path / "avatars.csv.gz", [["avatars", "users/1003/me.png", "v1", "true", "false",
                                                         "9", T, "e", "STANDARD"]])  # fmt: skip
    out.append(
        DayManifest(
            DAYS[1],
            _manifest(DAYS[1], "avatars", "CSV", CSV_COLUMNS, [other]),
            {other.key: str(tmp_path / other.key)},
        )  # fmt: skip
    )
    table = arrow_table().set_column(5, "size", pa.array(["100", "50", None, "seven"]))
    parquet = []
    for j in range(2):
        pq.write_table(table, tmp_path / f"d{j}.parquet")
        parquet.append(manifest_file(tmp_path / f"d{j}.parquet", f"d{j}.parquet"))
    out.append(
        DayManifest(
            DAYS[2],
            _manifest(DAYS[2], "photos", "Parquet", table.column_names, parquet),
            {f.key: str(tmp_path / f.key) for f in parquet},
        )  # fmt: skip
    )
    orc.write_table(arrow_table(), tmp_path / "d.orc", stripe_size=1, batch_size=1)
    data = manifest_file(tmp_path / "d.orc", "d.orc")
    out.append(
        DayManifest(
            DAYS[2],
            _manifest(DAYS[2], "videos", "ORC", arrow_table().column_names, [data]),
            {data.key: str(tmp_path / "d.orc")},
        )  # fmt: skip
    )
    return out


def _rows(con, table: str) -> list[tuple]:
    return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def test_the_window_stages_exactly_what_each_manifest_stages_alone(con, window):
    for m in window:
        stage_inventory(con, m.manifest, m.local_files, m.day, KeyPattern(), stage="alone")
    con.execute(STAGE_DDL.format(stage="together"))
    stage_inventory_window(con, window, KeyPattern(), "together", "together_quarantine")

    assert _rows(con, "together") == _rows(con, "alone")
    assert _rows(con, "together_quarantine") == _rows(con, "alone_quarantine")
    by_day = con.execute("SELECT snapshot_date, count(*) FROM together GROUP BY 1 ORDER BY 1").fetchall()
    assert by_day == [(DAYS[0], 7), (DAYS[1], 6), (DAYS[2], 10)]  # 5 + 2 rows; 5 + 1; 3 + 3 + 4
    quarantined = con.execute(
        "SELECT file, count(*), count(line_number) FROM together_quarantine GROUP BY 1 ORDER BY 1"
    ).fetchall()
    # 2026-09-30-1: a bad size (line 3) and two bad keys (no line: found after decoding); the first
    # file's truncated line (line 6); each Parquet file's value that does not cast (row 4)
    assert quarantined == [("2026-09-30-0.csv.gz", 1, 1), ("2026-09-30-1.csv.gz", 3, 1),
                           ("d0.parquet", 1, 1), ("d1.parquet", 1, 1)]  # fmt: skip
    reasons = {
        r
        for (r,) in con.execute("SELECT reason FROM together_quarantine WHERE line_number IS NULL").fetchall()
    }
    assert reasons == {"key is empty", "key is not valid form-URL encoding"}


def test_a_broken_file_is_named(con, window, tmp_path):
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(csv_line(CSV_ROWS[0]).encode())[:-9])
    data = manifest_file(broken, "broken.csv.gz")
    first = window[0]
    window[0] = replace(
        first,
        manifest=replace(first.manifest, files=[*first.manifest.files, data]),
        local_files={**first.local_files, data.key: str(broken)},
    )
    con.execute(STAGE_DDL.format(stage="together"))
    with pytest.raises(SourceFormatError, match=r"^broken.csv.gz: cannot read CSV data"):
        stage_inventory_window(con, window, KeyPattern(), "together", "together_quarantine")


def test_a_file_two_manifests_list_is_staged_for_each(con, tmp_path):
    """Two reports (a copy under another configuration) listing the same data file: each manifest's rows,
    as when each is staged alone, not the file's rows twice per manifest."""
    data = write_csv_gz(tmp_path / "a.csv.gz", [*CSV_ROWS[:2], BAD_CSV_ROWS[0]])
    local = {data.key: str(tmp_path / "a.csv.gz")}
    window = [
        DayManifest(DAYS[0], _manifest(DAYS[0], bucket, "CSV", CSV_COLUMNS, [data]), local)
        for bucket in ("photos", "photos-copy")
    ]
    for m in window:
        stage_inventory(con, m.manifest, m.local_files, m.day, KeyPattern(), stage="alone")
    con.execute(STAGE_DDL.format(stage="together"))
    stage_inventory_window(con, window, KeyPattern(), "together", "together_quarantine")
    assert _rows(con, "together") == _rows(con, "alone") and len(_rows(con, "together")) == 4
    assert _rows(con, "together_quarantine") == _rows(con, "alone_quarantine")
    assert len(_rows(con, "together_quarantine")) == 2  # the bad size, once per manifest
