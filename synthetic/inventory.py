"""S3 Inventory reports exactly as AWS writes them: a manifest folder per day, gzip CSV or Parquet data
files, ``manifest.json`` with per-file size and MD5, and ``manifest.checksum``.

Snapshot rule: the report in folder ``<D>T01-00Z`` lists the bucket as it stood at ``D`` 00:00 UTC,
i.e. every version created before that instant and not yet removed by lifecycle. A version is latest
unless a newer version or delete marker was created before that instant. Storage class is the one
its lifecycle lane gives at that age.

Files are written in chunks (``rows_per_file``) from Arrow tables, so a 10 M-object report streams
through bounded memory; gzip output has a zero mtime, so a seed reproduces identical bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from isal import igzip

from synthetic.layout import (
    DAY_SECONDS,
    INVENTORY_BUCKET,
    SOURCE_BUCKET,
    det_uuid,
    epoch,
    inventory_folder,
    inventory_root,
    md5_file,
    rng_for,
)
from synthetic.objects import (
    EXT_PROBS,
    EXTS,
    INTELLIGENT_TIERING,
    LANE_PROBS,
    MULTIPART_THRESHOLD,
    PART_SIZE,
    STORAGE_CLASSES,
    VersionRows,
    object_sizes,
    storage_class_codes,
)

ROWS_PER_FILE = 1_000_000
CSV_SLICE_ROWS = 100_000
BIG_ROWS_PER_FILE = 500_000
BIG_USERS = 1_000_000  # owners of a large synthetic report (user ids 1001 .. 1_001_000)
CSV_FILE_SCHEMA = (
    "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, "
    "IsMultipartUploaded, ReplicationStatus, EncryptionStatus, IntelligentTieringAccessTier"
)
PARQUET_FILE_SCHEMA = (
    "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); "
    "optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; "
    "optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); "
    "optional binary storage_class (UTF8); optional boolean is_multipart_uploaded; "
    "optional binary replication_status (UTF8); optional binary encryption_status (UTF8); "
    "optional binary intelligent_tiering_access_tier (UTF8); }"
)
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("bucket", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        ("version_id", pa.string()),
        ("is_latest", pa.bool_()),
        ("is_delete_marker", pa.bool_()),
        ("size", pa.int64()),
        ("last_modified_date", pa.timestamp("ms")),
        ("e_tag", pa.string()),
        ("storage_class", pa.string()),
        ("is_multipart_uploaded", pa.bool_()),
        ("replication_status", pa.string()),
        ("encryption_status", pa.string()),
        ("intelligent_tiering_access_tier", pa.string()),
    ]
)

_STRINGS_SQL = """
SELECT *,
  '"' || $bucket || '","' || key_form || '","' || version_id || '","' AS csv_head,
  '","' || is_dm::VARCHAR || '","' || CASE WHEN is_dm THEN '' ELSE size::VARCHAR END || '","'
    || strftime(make_timestamp(created * 1000000), '%Y-%m-%dT%H:%M:%S.000Z') || '","'
    || coalesce(e_tag, '') || '","' AS csv_mid,
  '","' || CASE WHEN is_dm THEN '' ELSE (size > $mp)::VARCHAR END || '","","'
    || CASE WHEN is_dm THEN '' ELSE 'SSE-S3' END || '","' AS csv_tail
FROM (
  SELECT *,
    left(replace(replace(to_base64(unhex(md5('v' || $seed || '-' || vid) || md5('w' || vid || '-' || $seed))),
         '+', '.'), '/', '_'), 32) AS version_id,
    CASE WHEN is_dm THEN NULL
         ELSE md5('c' || $seed || '-' || content)
              || CASE WHEN size > $mp THEN '-' || ceil(size / $part)::BIGINT ELSE '' END END AS e_tag,
    replace(replace(url_encode(key), '%2F', '/'), '%20', '+') AS key_form,
    replace(url_encode(key), '%2F', '/') AS key_uri
  FROM ({source})
) {order}
"""
_SORTED = "ORDER BY key, created DESC, vid"


@dataclass
class Catalog:
    """All versions as an Arrow table (strings included) plus numpy views for fast daily masks."""

    table: pa.Table
    created: np.ndarray
    superseded: np.ndarray
    removed: np.ndarray
    lane: np.ndarray
    size: np.ndarray
    is_dm: np.ndarray
    user: np.ndarray
    is_video: np.ndarray  # key ends with .mp4 or .mov (the app streams those in ranges)


@dataclass
class InventoryStats:
    """What one report contained, for the summary and for CloudWatch's storage metrics."""

    snapshot_date: date
    rows: int
    files: list[dict]
    bytes_by_class: dict[str, int]
    archived_objects: dict[str, int]
    latest_objects: int


def rows_to_arrow(rows: VersionRows) -> pa.Table:
    """Version rows as an Arrow table with a sequential ``vid`` (the seed of each version id)."""
    return pa.table(
        {
            "vid": pa.array(np.arange(len(rows), dtype=np.int64)),
            "user": pa.array(rows.user),
            "key": pa.array(rows.key, type=pa.string()),
            "created": pa.array(rows.created),
            "size": pa.array(rows.size),
            "content": pa.array(rows.content),
            "is_dm": pa.array(rows.is_dm),
            "superseded": pa.array(rows.superseded),
            "removed": pa.array(rows.removed),
            "lane": pa.array(rows.lane),
            "origin": pa.array(rows.origin, type=pa.string()),
        }
    )


def derive_strings(con: duckdb.DuckDBPyConnection, source_sql: str, seed: int, sort: bool = True) -> pa.Table:
    """Add version ids, ETags (multipart ``<md5>-<parts>`` above 16 MiB) and encoded keys to the rows
    of ``source_sql`` in DuckDB; sorted by key then newest version first when ``sort``."""
    sql = _STRINGS_SQL.format(source=source_sql, order=_SORTED if sort else "")
    params = {"seed": str(seed), "mp": MULTIPART_THRESHOLD, "part": PART_SIZE, "bucket": SOURCE_BUCKET}
    return con.sql(sql, params=params).to_arrow_table()


def build_catalog(rows: VersionRows, seed: int, con: duckdb.DuckDBPyConnection) -> Catalog:
    """The whole version history with its derived strings, plus numpy views for daily masks."""
    src = rows_to_arrow(rows)
    con.register("version_rows", src)
    table = derive_strings(con, "SELECT * FROM version_rows", seed).combine_chunks()
    con.unregister("version_rows")
    cols = {
        name: table.column(name).to_numpy()
        for name in ("created", "superseded", "removed", "lane", "size", "is_dm", "user")
    }
    key = table.column("key")
    video = pc.or_(pc.ends_with(key, ".mp4"), pc.ends_with(key, ".mov")).to_numpy(zero_copy_only=False)
    return Catalog(table=table, is_video=video, **cols)


def snapshot_mask(cat: Catalog, snapshot_date: date) -> np.ndarray:
    """Versions present at ``snapshot_date`` 00:00 UTC (see the module docstring for the rule)."""
    t = epoch(snapshot_date)
    return (cat.created < t) & (cat.removed >= t)


def snapshot_table(cat: Catalog, snapshot_date: date) -> pa.Table:
    """The typed inventory rows of one day (Parquet column names; keys raw)."""
    t = epoch(snapshot_date)
    idx = np.flatnonzero(snapshot_mask(cat, snapshot_date))
    part = cat.table.take(pa.array(idx))
    cls = storage_class_codes(cat.lane[idx], t - cat.created[idx])
    return _typed_rows(part, cat.superseded[idx] >= t, cls)


_CLASS_TEXT = pa.array([*STORAGE_CLASSES, None], type=pa.string())  # the last one: delete markers
_TIER_TEXT = pa.array([None, "FREQUENT"], type=pa.string())


def snapshot_csv_rows(cat: Catalog, snapshot_date: date) -> pa.Table:
    """One day's rows with only what the CSV file (``_csv_text``) and the report's totals
    (``write_report``) read: the version's CSV fragments and the day's latest flag, class and tier.

    Equal, column for column, to ``snapshot_table``'s, without the typed columns only Parquet needs
    (building those is most of a day's work when 35 reports are written)."""
    t = epoch(snapshot_date)
    idx = np.flatnonzero(snapshot_mask(cat, snapshot_date))
    dm = cat.is_dm[idx]
    cls = storage_class_codes(cat.lane[idx], t - cat.created[idx])
    rows = pa.array(idx)
    fragments = {name: cat.table.column(name).take(rows) for name in ("csv_head", "csv_mid", "csv_tail")}
    return pa.table(
        {
            **fragments,
            "is_latest": pa.array(cat.superseded[idx] >= t),
            "is_delete_marker": pa.array(dm),
            "size": pa.array(cat.size[idx], mask=dm),
            "storage_class": _CLASS_TEXT.take(pa.array(np.where(dm, len(STORAGE_CLASSES), cls))),
            "intelligent_tiering_access_tier": _TIER_TEXT.take(
                pa.array((~dm & (cls == INTELLIGENT_TIERING)).astype(np.int8))
            ),
        }
    )


def _typed_rows(part: pa.Table, is_latest: np.ndarray, cls: np.ndarray) -> pa.Table:
    """Assemble AWS's inventory columns; delete markers carry no size, ETag, class or multipart flag."""
    dm = part.column("is_dm").to_numpy()
    size = part.column("size").to_numpy()
    live = pa.array(~dm)
    cls_name = np.where(dm, None, STORAGE_CLASSES[cls])
    tier = np.where(~dm & (cls == INTELLIGENT_TIERING), "FREQUENT", None)
    n = len(part)
    return pa.table(
        {
            "bucket": pa.array(np.full(n, SOURCE_BUCKET)),
            "key": part.column("key"),
            "key_form": part.column("key_form"),
            "version_id": part.column("version_id"),
            "is_latest": pa.array(is_latest),
            "is_delete_marker": pa.array(dm),
            "size": pa.array(size, mask=dm),
            "last_modified_date": pc.cast(pc.multiply(part.column("created"), 1000), pa.timestamp("ms")),
            "e_tag": part.column("e_tag"),
            "storage_class": pa.array(cls_name, type=pa.string()),
            "is_multipart_uploaded": pc.if_else(live, pa.array(size > MULTIPART_THRESHOLD), None),
            "replication_status": pa.nulls(n, pa.string()),
            "encryption_status": pc.if_else(live, "SSE-S3", None),
            "intelligent_tiering_access_tier": pa.array(tier, type=pa.string()),
            "csv_head": part.column("csv_head"),
            "csv_mid": part.column("csv_mid"),
            "csv_tail": part.column("csv_tail"),
        }
    )


def _csv_text(rows: pa.Table) -> pa.Buffer:
    """The CSV bytes of ``rows``: per-version fragments (quoted, keys form-encoded, ``""`` for absent
    values) joined with the per-day fields (IsLatest, StorageClass, tier), one line per row. The
    joined string array's data buffer is exactly the file's text, so no CSV writer is needed."""
    latest = pc.if_else(rows.column("is_latest"), "true", "false")
    cls = pc.fill_null(rows.column("storage_class"), "")
    tier = pc.fill_null(rows.column("intelligent_tiering_access_tier"), "")
    lines = pc.binary_join_element_wise(
        rows.column("csv_head"), latest, rows.column("csv_mid"), cls, rows.column("csv_tail"), tier, '"\n', ""
    ).combine_chunks()
    if len(lines) == 0:
        return pa.py_buffer(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]


class _Digesting:
    """A binary file that also counts and MD5s what is written to it (the manifest's size and MD5
    without reading the file back)."""

    def __init__(self, raw):
        self.raw, self.md5, self.size = raw, hashlib.md5(), 0

    def write(self, data) -> int:
        self.md5.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def _write_csv(rows: pa.Table, path: Path) -> tuple[int, str]:
    """One CSV data file: gzip (mtime 0, no file name, so bytes are reproducible), no header, every
    value quoted, compressed in slices so the text of a big file never sits in memory whole; returns
    its size and MD5.

    Compressed with ISA-L (``isal``) at level 1: a month's reports are ~2 GB of text, which zlib's
    fastest level takes ~17 CPU-seconds to compress and ISA-L ~3.5, to files ~10 % smaller. Any gzip
    reader reads them; the bytes differ from zlib's (the text inside, hence every loaded row, does not)."""
    with path.open("wb") as raw:
        out = _Digesting(raw)
        with igzip.IGzipFile(filename="", fileobj=out, mode="wb", compresslevel=1, mtime=0) as gz:
            for offset in range(0, len(rows), CSV_SLICE_ROWS):
                gz.write(memoryview(_csv_text(rows.slice(offset, CSV_SLICE_ROWS))))
    return out.size, out.md5.hexdigest()


def _write_and_describe(rows: pa.Table, out_dir: Path, key: str, fmt: str) -> dict:
    """Write one data file and return its manifest entry (runs on a worker thread so compressing one
    file overlaps generating the next chunk)."""
    path = out_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        table = rows.select([f.name for f in PARQUET_SCHEMA]).cast(PARQUET_SCHEMA)
        pq.write_table(table, str(path), compression="snappy")
        return {"key": key, "size": path.stat().st_size, "MD5checksum": md5_file(path)}
    size, md5 = _write_csv(rows, path)
    return {"key": key, "size": size, "MD5checksum": md5}


def write_report(
    out_dir: Path,
    snapshot_date: date,
    chunks: Iterable[pa.Table],
    seed: int,
    inventory_format: str = "csv",
    rows_per_file: int = ROWS_PER_FILE,
) -> InventoryStats:
    """Write the data files of one report from a stream of typed row tables, then its manifest and
    checksum (last, as AWS does: a manifest only appears once all its files exist)."""
    if inventory_format not in ("csv", "parquet"):
        raise ValueError(f"inventory_format must be 'csv' or 'parquet', not {inventory_format!r}")
    ext = "csv.gz" if inventory_format == "csv" else "parquet"
    files: list = []
    by_class: dict[str, int] = {}
    archived: dict[str, int] = {}
    total = latest = 0
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        for chunk in chunks:
            for offset in range(0, len(chunk), rows_per_file):
                key = (
                    f"{inventory_root()}/data/{det_uuid(seed, 'inventory', snapshot_date, len(files))}.{ext}"
                )
                if pending is not None:
                    pending.result()
                pending = pool.submit(
                    _write_and_describe, chunk.slice(offset, rows_per_file), out_dir, key, inventory_format
                )
                files.append(pending)
            _accumulate(chunk, by_class, archived)
            total += len(chunk)
            live = pc.and_(chunk.column("is_latest"), pc.invert(chunk.column("is_delete_marker")))
            latest += int(pc.sum(live).as_py() or 0)
        files = [f.result() for f in files]
    manifest = {
        "sourceBucket": SOURCE_BUCKET,
        "destinationBucket": f"arn:aws:s3:::{INVENTORY_BUCKET}",
        "version": "2016-11-30",
        "creationTimestamp": str((epoch(snapshot_date) + 3600 + 2 * 3600 + 17 * 60) * 1000),
        "fileFormat": "CSV" if inventory_format == "csv" else "Parquet",
        "fileSchema": CSV_FILE_SCHEMA if inventory_format == "csv" else PARQUET_FILE_SCHEMA,
        "files": files,
    }
    folder = out_dir / inventory_folder(snapshot_date)
    folder.mkdir(parents=True, exist_ok=True)
    body = json.dumps(manifest, indent=4).encode()
    (folder / "manifest.json").write_bytes(body)
    (folder / "manifest.checksum").write_text(hashlib.md5(body).hexdigest())
    return InventoryStats(snapshot_date, total, files, by_class, archived, latest)


def _accumulate(chunk: pa.Table, by_class: dict[str, int], archived: dict[str, int]) -> None:
    """Bytes per storage class (all billed versions) and archived object counts, for CloudWatch/CUR."""
    g = chunk.group_by("storage_class").aggregate([("size", "sum"), ("size", "count")])
    for cls, total, count in zip(
        g.column("storage_class").to_pylist(),
        g.column("size_sum").to_pylist(),
        g.column("size_count").to_pylist(),
        strict=True,
    ):
        if cls is None:
            continue
        by_class[cls] = by_class.get(cls, 0) + int(total or 0)
        if cls in ("GLACIER", "DEEP_ARCHIVE"):
            archived[cls] = archived.get(cls, 0) + int(count)


def synthetic_chunk(
    start_index: int,
    count: int,
    seed: int,
    snapshot_date: date,
    con: duckdb.DuckDBPyConnection,
    users: int = BIG_USERS,
) -> pa.Table:
    """``count`` latest objects of a large synthetic bucket (keys unique by ``start_index``), typed
    like ``snapshot_table``; used to write reports far bigger than a generated population. Owners are
    user ids ``1001 .. 1000 + users``, Pareto-distributed (a few users own most objects)."""
    rng = rng_for(seed, "big-inventory", start_index)
    t = epoch(snapshot_date)
    ext = rng.choice(EXTS, size=count, p=EXT_PROBS)
    src = pa.table(
        {
            "vid": pa.array(np.arange(start_index, start_index + count, dtype=np.int64)),
            "uid": pa.array(1001 + (rng.pareto(1.2, count) * 40).astype(np.int64) % users),
            "ext": pa.array(ext),
            "created": pa.array(t - 3600 - rng.integers(0, 3 * 365 * DAY_SECONDS, count)),
            "size": pa.array(object_sizes(rng, ext)),
            "lane": pa.array(rng.choice(len(LANE_PROBS), size=count, p=LANE_PROBS).astype(np.int8)),
        }
    )
    con.register("big_chunk", src)
    table = derive_strings(
        con,
        "SELECT vid, created, size, lane, vid AS content, false AS is_dm, "
        "'users/' || uid || '/photos/' || strftime(to_timestamp(created), '%Y/%m') || '/IMG_' || vid "
        "|| '.' || ext AS key FROM big_chunk",
        seed,
        sort=False,
    )
    con.unregister("big_chunk")
    cls = storage_class_codes(table.column("lane").to_numpy(), t - table.column("created").to_numpy())
    return _typed_rows(table, np.ones(count, dtype=bool), cls)


def generate_inventory_snapshot(
    out_dir: Path,
    snapshot_date: date,
    objects: int,
    seed: int = 7,
    inventory_format: str = "csv",
    rows_per_file: int = BIG_ROWS_PER_FILE,
    users: int = BIG_USERS,
) -> InventoryStats:
    """Write ONE inventory report of ``objects`` objects, generating and writing ``rows_per_file`` rows at
    a time so memory stays flat however large the report (a 10 M-object report for benchmarks)."""
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET enable_progress_bar = false")

    def chunks() -> Iterable[pa.Table]:
        for start in range(0, objects, rows_per_file):
            yield synthetic_chunk(start, min(rows_per_file, objects - start), seed, snapshot_date, con, users)

    try:
        return write_report(Path(out_dir), snapshot_date, chunks(), seed, inventory_format, rows_per_file)
    finally:
        con.close()
