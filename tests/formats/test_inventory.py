"""S3 Inventory reader: manifests, checksums, CSV/Parquet/ORC data, key decoding and quarantine."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from bucketlens.formats.errors import SourceFormatError
from bucketlens.formats.inventory import TABLE_DDL, stage_inventory
from bucketlens.formats.inventory_manifest import (
    InventoryManifest,
    ManifestFile,
    checksum_key,
    inventory_manifest_keys,
    parse_manifest,
    verify_data_file,
    verify_data_files,
    verify_manifest_checksum,
)
from bucketlens.keys import KeyPattern
from tests.rows import insert_rows

AWS_EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws"
SNAPSHOT = date(2026, 9, 1)
CSV_SCHEMA = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"
CSV_COLUMNS = ["bucket", "key", "version_id", "is_latest", "is_delete_marker", "size", "last_modified_date",
               "e_tag", "storage_class"]  # fmt: skip
STAGE_COLUMNS = (
    "bucket, key, version_id, is_latest, is_delete_marker, size, last_modified, storage_class, user_id"
)


def csv_line(values: list[str | None]) -> str:
    """AWS's CSV: every value double-quoted, absent values as an empty quoted string."""
    return ",".join('"' + (v or "").replace('"', '""') + '"' for v in values) + "\n"


def write_csv_gz(path: Path, rows: list[list[str | None]], members: int = 1) -> ManifestFile:
    """gzip CSV without header, split into ``members`` concatenated gzip members like AWS may write."""
    text = "".join(csv_line(r) for r in rows).encode()
    step = max(1, len(rows) // members)
    chunks = [
        "".join(csv_line(r) for r in rows[i : i + step]).encode() for i in range(0, len(rows), step)
    ] or [text]
    path.write_bytes(b"".join(gzip.compress(c) for c in chunks))
    return manifest_file(path, path.name)


def manifest_file(path: Path, key: str) -> ManifestFile:
    return ManifestFile(key, path.stat().st_size, hashlib.md5(path.read_bytes()).hexdigest())


def manifest(fmt: str, columns: list[str], files: list[ManifestFile]) -> InventoryManifest:
    return InventoryManifest(
        key="inventory/photos/daily/2026-09-01T01-00Z/manifest.json",
        source_bucket="photos",
        destination_bucket="arn:aws:s3:::inv",
        version="2016-11-30",
        creation_time=datetime(2026, 9, 1, 1, tzinfo=UTC),
        file_format=fmt,
        columns=columns,
        files=files,
    )


def staged(con, order: str = "key, version_id") -> list[tuple]:
    return con.execute(f"SELECT {STAGE_COLUMNS} FROM stage_inventory_objects ORDER BY {order}").fetchall()


# --- manifests --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "orc"])
def test_aws_example_manifests_parse(fmt):
    raw = (AWS_EXAMPLES / f"manifest-{fmt}.json").read_bytes()
    parsed = parse_manifest(raw, f"manifest-{fmt}.json")
    assert parsed.creation_time == datetime(2018, 1, 3, 2, 0, tzinfo=UTC)  # 1514944800000 ms
    assert parsed.source_bucket == "example-source-bucket"
    assert parsed.version == "2016-11-30"
    assert parsed.file_format == {"csv": "CSV", "parquet": "Parquet", "orc": "ORC"}[fmt]
    # All three examples configure the same 18 fields in the same order.
    assert parsed.columns[:9] == CSV_COLUMNS
    assert parsed.columns[9:] == [
        "is_multipart_uploaded", "replication_status", "encryption_status", "object_lock_retain_until_date",
        "object_lock_mode", "object_lock_legal_hold_status", "intelligent_tiering_access_tier",
        "bucket_key_status", "checksum_algorithm",
    ]  # fmt: skip
    assert len(parsed.files) == 1
    expected_size = 2147483647 if fmt == "csv" else 56291
    assert parsed.files[0].size == expected_size


def test_aws_example_csv_manifest_file_entry():
    parsed = parse_manifest((AWS_EXAMPLES / "manifest-csv.json").read_bytes(), "m.json")
    assert parsed.files[0] == ManifestFile(
        "Inventory/example-source-bucket/2016-11-06T21-32Z/files/939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz",
        2147483647,
        "f11166069f1990abeb9c97ace9cdfabc",
    )
    assert parsed.destination_bucket == "arn:aws:s3:::example-inventory-destination-bucket"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "not valid JSON"),
        (json.dumps({"sourceBucket": "b"}).encode(), "lacks destinationBucket"),
        (
            json.dumps(
                {
                    "sourceBucket": "b",
                    "destinationBucket": "d",
                    "creationTimestamp": "1",
                    "fileFormat": "Avro",
                    "fileSchema": "Bucket, Key",
                    "files": [],
                }
            ).encode(),
            "unknown fileFormat 'Avro'",
        ),  # fmt: skip
        (
            json.dumps(
                {
                    "sourceBucket": "b",
                    "destinationBucket": "d",
                    "creationTimestamp": "1",
                    "fileFormat": "CSV",
                    "fileSchema": "Bucket, Size",
                    "files": [],
                }
            ).encode(),
            "no key column",
        ),  # fmt: skip
    ],
)
def test_bad_manifest_names_the_file(raw, message):
    with pytest.raises(SourceFormatError, match=message) as info:
        parse_manifest(raw, "inventory/b/c/2026-09-01T01-00Z/manifest.json")
    assert str(info.value).startswith("inventory/b/c/2026-09-01T01-00Z/manifest.json: ")


def test_manifest_checksum():
    raw = (AWS_EXAMPLES / "manifest-csv.json").read_bytes()
    good = hashlib.md5(raw).hexdigest().upper().encode() + b"\n"
    verify_manifest_checksum(raw, good, "m/manifest.json")  # case and whitespace do not matter
    with pytest.raises(SourceFormatError, match=r"^m/manifest.json: manifest MD5 is [0-9a-f]{32} but"):
        verify_manifest_checksum(raw + b" ", good, "m/manifest.json")


def test_data_file_size_and_md5_mismatch_name_the_key(tmp_path):
    path = tmp_path / "f.csv.gz"
    path.write_bytes(b"0123456789")
    right = ManifestFile("inventory/b/c/data/f.csv.gz", 10, hashlib.md5(b"0123456789").hexdigest())
    verify_data_file(str(path), right)
    with pytest.raises(
        SourceFormatError, match=r"^inventory/b/c/data/f.csv.gz: size is 10 bytes but the manifest says 11"
    ):
        verify_data_file(str(path), ManifestFile(right.key, 11, right.md5))
    wrong_md5 = "0" * 32
    with pytest.raises(
        SourceFormatError,
        match=rf"^inventory/b/c/data/f.csv.gz: MD5 is {right.md5} but the manifest says {wrong_md5}",
    ):
        verify_data_file(str(path), ManifestFile(right.key, 10, wrong_md5))


@pytest.mark.parametrize("cores", [1, 2, 4])
def test_data_files_hashed_together_fail_on_the_first_bad_file_in_manifest_order(
    tmp_path, monkeypatch, cores
):
    """The files are hashed on every core, yet the error is the one a check in the manifest's order gives."""
    monkeypatch.setattr("bucketlens.formats.inventory_manifest.usable_cpus", lambda: cores)
    files, local = [], {}
    for n in range(6):
        data = f"data file {n}".encode() * (50_000 if n == 0 else 1)  # the first takes longest to hash
        path = tmp_path / f"f{n}.csv.gz"
        path.write_bytes(data)
        files.append(
            ManifestFile(f"inventory/b/c/data/f{n}.csv.gz", len(data), hashlib.md5(data).hexdigest())
        )
        local[files[-1].key] = str(path)
    verify_data_files(files, local)  # all right: no error

    bad = list(files)
    bad[3] = ManifestFile(files[3].key, files[3].size, "0" * 32)  # wrong MD5
    bad[5] = ManifestFile(files[5].key, files[5].size + 1, files[5].md5)  # wrong size, later in the manifest
    with pytest.raises(
        SourceFormatError, match=r"^inventory/b/c/data/f3.csv.gz: MD5 is [0-9a-f]{32} but"
    ) as info:
        verify_data_files(bad, local)
    assert info.value.file == files[3].key


def test_manifest_keys_of_a_day_keep_the_latest_per_config():
    keys = [
        "inventory/photos/daily/2026-09-01T01-00Z/manifest.json",
        "inventory/photos/daily/2026-09-01T01-00Z/manifest.checksum",
        "inventory/photos/daily/2026-09-01T13-00Z/manifest.json",  # a second run the same day wins
        "inventory/photos/daily/2026-08-31T01-00Z/manifest.json",
        "inventory/photos/daily/data/abc.csv.gz",
        "inventory/photos/daily/hive/dt=2026-09-01-01-00/symlink.txt",
        "inventory/photos/weekly/2026-09-01T02-00Z/manifest.json",
        "inventory/avatars/all-versions/2026-09-01T00-00Z/manifest.json",
        "inventory/avatars/all-versions/2026-09-02T00-00Z/manifest.json",
    ]
    assert inventory_manifest_keys(keys, date(2026, 9, 1)) == [
        "inventory/avatars/all-versions/2026-09-01T00-00Z/manifest.json",
        "inventory/photos/daily/2026-09-01T13-00Z/manifest.json",
        "inventory/photos/weekly/2026-09-01T02-00Z/manifest.json",
    ]
    assert checksum_key(keys[0]) == "inventory/photos/daily/2026-09-01T01-00Z/manifest.checksum"


# --- CSV --------------------------------------------------------------------------------------

T = "2026-08-30T10:00:00.000Z"
CSV_ROWS = [
    ["photos", "users/1001/a+b%2Bc%C3%A9.jpg", "v1", "true", "false", "100", T, "e1", "STANDARD"],
    ["photos", "users%2F..%2Fx", "v1", "true", "false", "7", T, "e2", "STANDARD"],
    ["photos", "users/1006/../1001/x", "v1", "true", "false", "5", T, "e3", "GLACIER"],
    # An all-versions report: a noncurrent version (billed) and a delete marker (no size, not billed).
    ["photos", "users/1002/old.jpg", "v2", "false", "false", "300", T, "e4", "STANDARD_IA"],
    ["photos", "users/1002/old.jpg", "v3", "true", "true", None, "2026-08-31T10:00:00.000Z", None, None],
]


def test_csv_keys_are_form_decoded_and_users_assigned(tmp_path, con):
    data = write_csv_gz(tmp_path / "a.csv.gz", CSV_ROWS, members=2)
    load = stage_inventory(con, manifest("CSV", CSV_COLUMNS, [data]), {data.key: str(data_path(tmp_path, data))},
                           SNAPSHOT, KeyPattern())  # fmt: skip
    seen = datetime(2026, 8, 30, 10)
    assert staged(con) == [
        ("photos", "users/../x", "v1", True, False, 7, seen, "STANDARD", "_shared"),
        ("photos", "users/1001/a b+cé.jpg", "v1", True, False, 100, seen, "STANDARD", "1001"),
        ("photos", "users/1002/old.jpg", "v2", False, False, 300, seen, "STANDARD_IA", "1002"),
        ("photos", "users/1002/old.jpg", "v3", True, True, None, datetime(2026, 8, 31, 10), None, "1002"),
        ("photos", "users/1006/../1001/x", "v1", True, False, 5, seen, "GLACIER", "1006"),
    ]
    assert (load.files, load.rows, load.bytes, load.delete_markers, load.noncurrent_versions) == (
        1,
        5,
        412,
        1,
        1,
    )
    assert load.quarantined == 0
    assert load.by_storage_class == {"GLACIER": 1, "STANDARD": 2, "STANDARD_IA": 1}
    assert load.bytes_by_storage_class == {"GLACIER": 5, "STANDARD": 107, "STANDARD_IA": 300}
    snapshot, manifest_key = con.execute(
        "SELECT DISTINCT snapshot_date, manifest_key FROM stage_inventory_objects"
    ).fetchall()[0]
    assert (snapshot, manifest_key) == (SNAPSHOT, "inventory/photos/daily/2026-09-01T01-00Z/manifest.json")


def data_path(tmp_path: Path, data: ManifestFile) -> Path:
    return tmp_path / data.key


def test_csv_bad_rows_are_quarantined_with_line_numbers(tmp_path, con):
    rows = [
        ["photos", "users/1001/ok.jpg", "", "", "", "10", T, "e", "STANDARD"],
        ["photos", "users/1001/bad-size.jpg", "", "", "", "12x", T, "e", "STANDARD"],
        ["photos", "users/1001/ok2.jpg", "", "", "", "20", T, "e", "STANDARD"],
        ["photos", "users/1001/bad-time.jpg", "", "maybe", "", "1", "yesterday", "e", "STANDARD"],
        ["photos", "users/1001/%FF%FE.jpg", "", "", "", "1", T, "e", "STANDARD"],
    ]
    data = write_csv_gz(tmp_path / "q.csv.gz", rows)
    with (tmp_path / "q.csv.gz").open("ab") as handle:  # a truncated line in a second gzip member
        handle.write(gzip.compress(b'"photos","users/1001/short"\n'))
    data = manifest_file(tmp_path / "q.csv.gz", "q.csv.gz")
    load = stage_inventory(con, manifest("CSV", CSV_COLUMNS, [data]), {data.key: str(tmp_path / "q.csv.gz")},
                           SNAPSHOT, KeyPattern())  # fmt: skip
    # Columns absent from a current-versions report default to latest / not a delete marker.
    assert staged(con) == [
        ("photos", "users/1001/ok.jpg", None, True, False, 10, datetime(2026, 8, 30, 10), "STANDARD", "1001"),
        (
            "photos",
            "users/1001/ok2.jpg",
            None,
            True,
            False,
            20,
            datetime(2026, 8, 30, 10),
            "STANDARD",
            "1001",
        ),
    ]
    quarantine = con.execute(
        "SELECT file, line_number, raw_text, reason FROM stage_inventory_quarantine ORDER BY line_number NULLS LAST"
    ).fetchall()
    assert [(q[0], q[1]) for q in quarantine] == [
        ("q.csv.gz", 2),
        ("q.csv.gz", 4),
        ("q.csv.gz", 6),
        ("q.csv.gz", None),
    ]
    assert quarantine[0][2] == csv_line(rows[1]).rstrip("\n")
    assert 'Could not convert string "12x"' in quarantine[0][3]
    assert "is_latest" in quarantine[1][3] and "last_modified_date" in quarantine[1][3]
    assert "Expected Number of Columns: 9" in quarantine[2][3]
    assert quarantine[3][2:] == ("photos,users/1001/%FF%FE.jpg", "key is not valid form-URL encoding")
    assert (load.rows, load.quarantined, load.bytes) == (2, 4, 30)
    assert load.quarantine_table == "stage_inventory_quarantine"


def test_restaging_a_manifest_replaces_its_rows_and_several_manifests_share_a_stage(tmp_path, con):
    data = write_csv_gz(tmp_path / "a.csv.gz", CSV_ROWS[:2])
    first = manifest("CSV", CSV_COLUMNS, [data])
    for _ in range(2):
        stage_inventory(con, first, {data.key: str(tmp_path / "a.csv.gz")}, SNAPSHOT, KeyPattern())
    other = manifest("CSV", CSV_COLUMNS, [data])
    other.key = "inventory/avatars/daily/2026-09-01T01-00Z/manifest.json"
    load = stage_inventory(con, other, {data.key: str(tmp_path / "a.csv.gz")}, SNAPSHOT, KeyPattern())
    assert load.rows == 2
    counts = con.execute(
        "SELECT manifest_key, count(*) FROM stage_inventory_objects GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert counts == [(other.key, 2), (first.key, 2)]


def test_a_named_stage_gets_its_own_quarantine_table(tmp_path, con):
    rows = [CSV_ROWS[0], ["photos", "users/1001/bad.jpg", "v1", "true", "false", "big", T, "e", "STANDARD"]]
    data = write_csv_gz(tmp_path / "a.csv.gz", rows)
    load = stage_inventory(
        con,
        manifest("CSV", CSV_COLUMNS, [data]),
        {data.key: str(tmp_path / "a.csv.gz")},
        SNAPSHOT,
        KeyPattern(),
        stage="stage_inventory_0",
    )
    assert load.quarantine_table == "stage_inventory_0_quarantine"
    assert con.execute("SELECT file, line_number FROM stage_inventory_0_quarantine").fetchall() == [
        ("a.csv.gz", 2)
    ]
    assert con.execute("SELECT count(*) FROM stage_inventory_0").fetchall() == [(1,)]


def test_a_broken_file_stages_nothing_of_its_manifest(tmp_path, con):
    good = write_csv_gz(tmp_path / "good.csv.gz", CSV_ROWS)
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(csv_line(CSV_ROWS[0]).encode())[:-9])
    broken = manifest_file(tmp_path / "broken.csv.gz", "broken.csv.gz")
    files = {good.key: str(tmp_path / "good.csv.gz"), broken.key: str(tmp_path / "broken.csv.gz")}
    with pytest.raises(SourceFormatError, match=r"^broken.csv.gz: cannot read CSV data"):
        stage_inventory(con, manifest("CSV", CSV_COLUMNS, [good, broken]), files, SNAPSHOT, KeyPattern())
    assert con.execute("SELECT count(*) FROM stage_inventory_objects").fetchall() == [(0,)]


def test_memory_settings_are_restored(tmp_path, con):
    con.execute("SET memory_limit = '3GB'")
    data = write_csv_gz(tmp_path / "a.csv.gz", CSV_ROWS)
    stage_inventory(con, manifest("CSV", CSV_COLUMNS, [data]), {data.key: str(tmp_path / "a.csv.gz")},
                    SNAPSHOT, KeyPattern())  # fmt: skip
    assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [("2.7 GiB",)]


def test_table_ddl_accepts_the_stage(tmp_path, con):
    data = write_csv_gz(tmp_path / "a.csv.gz", CSV_ROWS)
    stage_inventory(con, manifest("CSV", CSV_COLUMNS, [data]), {data.key: str(tmp_path / "a.csv.gz")},
                    SNAPSHOT, KeyPattern())  # fmt: skip
    con.execute("CREATE SCHEMA raw")
    con.execute(TABLE_DDL)
    con.execute("INSERT INTO raw.inventory_objects SELECT * FROM stage_inventory_objects")
    assert con.execute("SELECT count(*), sum(size) FROM raw.inventory_objects").fetchall() == [(5, 412)]


# --- Parquet and ORC ----------------------------------------------------------------------------


def arrow_table(with_bad_text: bool = False) -> pa.Table:
    """Typed like AWS's Parquet/ORC: raw keys, naive UTC timestamps."""
    return pa.table(
        {
            "bucket": ["photos"] * 4,
            "key": ["users/1001/a+b.jpg", "users/1002/x y.jpg", "users/1002/x y.jpg", "shared/logo.png"],
            "version_id": ["v1", "v1", "v2", None],
            "is_latest": [True, False, True, True],
            "is_delete_marker": [False, False, True, False],
            "size": pa.array([100, 50, None, 7], pa.int64()),
            "last_modified_date": pa.array([datetime(2026, 8, 30, 10)] * 4, pa.timestamp("ms")),
            "e_tag": ["e1", "e2", None, "e4"],
            "storage_class": ["STANDARD", "INTELLIGENT_TIERING", None, "STANDARD"],
            "is_multipart_uploaded": [False, True, None, False],
            "intelligent_tiering_access_tier": [None, "ARCHIVE_INSTANT_ACCESS", None, None],
        }
    )


EXPECTED_TYPED = [
    ("photos", "shared/logo.png", None, True, False, 7, datetime(2026, 8, 30, 10), "STANDARD", "_shared"),
    ("photos", "users/1001/a+b.jpg", "v1", True, False, 100, datetime(2026, 8, 30, 10), "STANDARD", "1001"),
    (
        "photos",
        "users/1002/x y.jpg",
        "v1",
        False,
        False,
        50,
        datetime(2026, 8, 30, 10),
        "INTELLIGENT_TIERING",
        "1002",
    ),
    ("photos", "users/1002/x y.jpg", "v2", True, True, None, datetime(2026, 8, 30, 10), None, "1002"),
]


def test_parquet_keys_are_raw(tmp_path, con):
    pq.write_table(arrow_table(), tmp_path / "d.parquet")
    data = manifest_file(tmp_path / "d.parquet", "inventory/photos/daily/data/d.parquet")
    columns = arrow_table().column_names
    load = stage_inventory(con, manifest("Parquet", columns, [data]), {data.key: str(tmp_path / "d.parquet")},
                           SNAPSHOT, KeyPattern())  # fmt: skip
    assert staged(con) == EXPECTED_TYPED
    assert (load.rows, load.bytes, load.delete_markers, load.noncurrent_versions, load.quarantined) == (
        4,
        157,
        1,
        1,
        0,
    )
    assert load.by_storage_class == {"INTELLIGENT_TIERING": 1, "STANDARD": 2}
    tiers = con.execute(
        "SELECT intelligent_tiering_access_tier FROM stage_inventory_objects WHERE key = 'users/1002/x y.jpg' AND version_id = 'v1'"
    ).fetchall()
    assert tiers == [("ARCHIVE_INSTANT_ACCESS",)]


def test_parquet_utc_adjusted_timestamps_stay_utc(tmp_path, con):
    con.execute("SET TimeZone = 'America/New_York'")
    table = arrow_table().set_column(
        6,
        "last_modified_date",
        pa.array([datetime(2026, 8, 30, 10, tzinfo=UTC)] * 4, pa.timestamp("ms", tz="UTC")),
    )
    pq.write_table(table, tmp_path / "d.parquet")
    data = manifest_file(tmp_path / "d.parquet", "d.parquet")
    stage_inventory(con, manifest("Parquet", table.column_names, [data]), {data.key: str(tmp_path / "d.parquet")},
                    SNAPSHOT, KeyPattern())  # fmt: skip
    assert staged(con) == EXPECTED_TYPED
    assert con.execute("SELECT current_setting('TimeZone')").fetchall() == [("America/New_York",)]


@pytest.mark.parametrize("fmt", ["Parquet", "ORC"])
def test_values_that_do_not_cast_are_quarantined_with_row_number(tmp_path, con, fmt):
    table = arrow_table().set_column(5, "size", pa.array(["100", "50", None, "seven"]))
    path = tmp_path / f"d.{fmt.lower()}"
    if fmt == "ORC":
        orc.write_table(table, path, stripe_size=1, batch_size=1)  # the bad row is alone in stripe 4
    else:
        pq.write_table(table, path)
    data = manifest_file(path, path.name)
    load = stage_inventory(
        con, manifest(fmt, table.column_names, [data]), {data.key: str(path)}, SNAPSHOT, KeyPattern()
    )
    assert staged(con) == EXPECTED_TYPED[1:]
    quarantined = con.execute(
        "SELECT file, line_number, raw_text, reason FROM stage_inventory_quarantine"
    ).fetchall()
    assert [(q[0], q[1], q[3]) for q in quarantined] == [(path.name, 4, "bad size")]
    assert json.loads(quarantined[0][2])["size"] == "seven"
    assert (load.rows, load.quarantined) == (3, 1)


def test_orc_is_read_stripe_by_stripe(tmp_path, con):
    table = arrow_table()
    orc.write_table(table, tmp_path / "d.orc", stripe_size=1, batch_size=1)  # one row per stripe
    assert orc.ORCFile(tmp_path / "d.orc").nstripes == 4
    data = manifest_file(tmp_path / "d.orc", "d.orc")
    load = stage_inventory(con, manifest("ORC", table.column_names, [data]), {data.key: str(tmp_path / "d.orc")},
                           SNAPSHOT, KeyPattern())  # fmt: skip
    assert staged(con) == EXPECTED_TYPED
    assert (load.rows, load.bytes, load.delete_markers, load.noncurrent_versions) == (4, 157, 1, 1)


def test_missing_local_file_is_an_error(con):
    data = ManifestFile("inventory/photos/daily/data/x.csv.gz", 1, "0" * 32)
    with pytest.raises(SourceFormatError, match="no local copy of data file"):
        stage_inventory(con, manifest("CSV", CSV_COLUMNS, [data]), {}, SNAPSHOT, KeyPattern())


# --- scale --------------------------------------------------------------------------------------

LARGE_SCRIPT = r"""
import resource, sys, time
from datetime import date
import duckdb
from bucketlens.formats.inventory import stage_inventory
from bucketlens.formats.inventory_manifest import InventoryManifest, ManifestFile
from bucketlens.keys import KeyPattern
path, rows = sys.argv[1], int(sys.argv[2])
m = InventoryManifest("m", "photos", "d", "v", None, "CSV",
    ["bucket", "key", "version_id", "is_latest", "is_delete_marker", "size", "last_modified_date", "e_tag",
     "storage_class", "is_multipart_uploaded", "replication_status", "encryption_status"],
    [ManifestFile("big.csv.gz", 0, "")])
con = duckdb.connect(sys.argv[3])
con.execute("SET enable_progress_bar = false")
start = time.perf_counter()
load = stage_inventory(con, m, {"big.csv.gz": path}, date(2026, 9, 1), KeyPattern())
elapsed = time.perf_counter() - start
print(load.rows, load.bytes, load.quarantined, round(elapsed, 1),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def write_large_inventory_csv(path: Path, rows: int, users: int = 5000) -> None:
    """A realistic multi-million-row inventory CSV.gz, written by DuckDB in seconds (not a Python loop)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(
        f"""
        COPY (
            SELECT 'photo-backup-prod', 'users/' || (i % {users}) || '/IMG+' || i || '%20%C3%A9.jpg',
                   md5(i::VARCHAR)[:32], 'true', 'false', (i * 7919 % 8000000)::VARCHAR,
                   '2026-08-' || lpad((1 + i % 30)::VARCHAR, 2, '0') || 'T10:00:00.000Z', md5((i * 3)::VARCHAR),
                   CASE i % 10 WHEN 0 THEN 'GLACIER' WHEN 1 THEN 'STANDARD_IA' ELSE 'STANDARD' END,
                   'false', '', 'SSE-S3'
            FROM range({rows}) AS t(i)
        ) TO '{path}' (FORMAT csv, HEADER false, QUOTE '"', FORCE_QUOTE *, COMPRESSION gzip)
        """
    )
    con.close()


@pytest.mark.slow
def test_ten_million_rows_stage_under_two_gigabytes(tmp_path, request):
    """Measured: 10 M rows staged in ~26 s at ~1.2 GB peak RSS (2-core machine, file-backed DuckDB)."""
    if "slow" not in (request.config.option.markexpr or ""):  # deselected by -m "not slow" anyway
        pytest.skip("benchmark-scale: opt in with -m slow")
    rows = int(os.environ.get("BUCKETLENS_LARGE_INVENTORY_ROWS", "10000000"))
    path = tmp_path / "big.csv.gz"
    write_large_inventory_csv(path, rows)
    result = subprocess.run(
        [sys.executable, "-c", LARGE_SCRIPT, str(path), str(rows), str(tmp_path / "w.duckdb")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    staged_rows, _, quarantined, seconds, peak_mib = result.stdout.split()
    print(f"staged {staged_rows} rows in {seconds} s, peak RSS {peak_mib} MiB")
    assert (int(staged_rows), int(quarantined)) == (rows, 0)
    assert int(peak_mib) < 2048


def test_large_inventory_helper_smoke(tmp_path):
    """The helper the slow test uses, at 20 k rows: fast and in AWS's exact quoting."""
    path = tmp_path / "small.csv.gz"
    start = time.perf_counter()
    write_large_inventory_csv(path, 20_000)
    first = gzip.decompress(path.read_bytes()).split(b"\n", 1)[0]
    assert first.startswith(b'"photo-backup-prod","users/0/IMG+0%20%C3%A9.jpg","')
    assert time.perf_counter() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


def _warehouse_table(con, rows: list[tuple[date, str]]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(TABLE_DDL)
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, size, user_id) VALUES (?, 'photos', ?, 1, 'u')",
        rows,
    )


def test_staging_in_place_writes_the_warehouse_table_inside_the_callers_transaction(tmp_path, con):
    _warehouse_table(con, [(date(2026, 8, 31), "yesterday")])
    data = write_csv_gz(tmp_path / "a.csv.gz", CSV_ROWS)
    con.execute("BEGIN TRANSACTION")
    load = stage_inventory(con, manifest("CSV", CSV_COLUMNS, [data]), {data.key: str(tmp_path / "a.csv.gz")},
                           SNAPSHOT, KeyPattern(), stage="raw.inventory_objects")  # fmt: skip
    con.execute("COMMIT")
    assert (load.rows, load.bytes, load.quarantine_table) == (5, 412, "raw_inventory_objects_quarantine")
    counts = con.execute(
        "SELECT snapshot_date, count(*), sum(size) FROM raw.inventory_objects GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert counts == [(date(2026, 8, 31), 1, 1), (SNAPSHOT, 5, 412)]  # the other day untouched
    temp = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'stage%'")
    assert temp.fetchall() == []  # no TEMP copy of the rows


def test_a_broken_file_in_place_leaves_the_rollback_to_the_caller(tmp_path, con):
    _warehouse_table(con, [(SNAPSHOT, "loaded-before")])
    good = write_csv_gz(tmp_path / "good.csv.gz", CSV_ROWS)
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(csv_line(CSV_ROWS[0]).encode())[:-9])
    broken = manifest_file(tmp_path / "broken.csv.gz", "broken.csv.gz")
    files = {good.key: str(tmp_path / "good.csv.gz"), broken.key: str(tmp_path / "broken.csv.gz")}
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM raw.inventory_objects WHERE snapshot_date = ?", [SNAPSHOT])
    with pytest.raises(SourceFormatError, match=r"^broken.csv.gz: cannot read CSV data"):
        stage_inventory(con, manifest("CSV", CSV_COLUMNS, [good, broken]), files, SNAPSHOT, KeyPattern(),
                        stage="raw.inventory_objects")  # fmt: skip
    con.execute("ROLLBACK")
    assert con.execute("SELECT key FROM raw.inventory_objects").fetchall() == [("loaded-before",)]


def test_parquet_files_of_a_manifest_are_read_together_and_quarantine_names_each_file(tmp_path, con):
    good, bad = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(arrow_table().set_column(5, "size", pa.array(["100", "50", None, "7"])), good)
    pq.write_table(arrow_table().set_column(5, "size", pa.array(["1", "x", None, "7"])), bad)
    files = [manifest_file(good, "data/a.parquet"), manifest_file(bad, "data/b.parquet")]
    load = stage_inventory(
        con, manifest("Parquet", arrow_table().column_names, files),
        {"data/a.parquet": str(good), "data/b.parquet": str(bad)}, SNAPSHOT, KeyPattern(),
    )  # fmt: skip
    quarantined = con.execute("SELECT file, line_number, reason FROM stage_inventory_quarantine").fetchall()
    assert quarantined == [("data/b.parquet", 2, "bad size")]
    assert (load.files, load.rows, load.quarantined) == (2, 7, 1)


def test_a_parquet_read_error_names_the_broken_file(tmp_path, con):
    good, bad = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(arrow_table(), good)
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    files = [manifest_file(good, "data/a.parquet"), manifest_file(bad, "data/b.parquet")]
    with pytest.raises(SourceFormatError, match=r"^data/b.parquet: cannot read Parquet data"):
        stage_inventory(con, manifest("Parquet", arrow_table().column_names, files),
                        {"data/a.parquet": str(good), "data/b.parquet": str(bad)}, SNAPSHOT, KeyPattern())  # fmt: skip
    assert con.execute("SELECT count(*) FROM stage_inventory_objects").fetchall() == [(0,)]
