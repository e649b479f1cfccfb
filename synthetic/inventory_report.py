"""Writing one S3 Inventory report: its data files (gzip CSV or Parquet), ``manifest.json`` and checksum.

Why this module exists: what a report *contains* (which versions, as which rows) is ``inventory``'s
business; how AWS lays a report out on disk is this one's. Files are written in chunks
(``rows_per_file``) from Arrow tables, so a 10 M-object report streams through bounded memory; gzip
output has a zero mtime, so a seed reproduces identical bytes; the manifest's per-file size and MD5
are counted while writing, and the manifest comes last, as AWS writes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from isal import igzip

from synthetic.layout import (
    INVENTORY_BUCKET,
    SOURCE_BUCKET,
    det_uuid,
    epoch,
    inventory_folder,
    inventory_root,
    md5_file,
)

ROWS_PER_FILE = 1_000_000
CSV_SLICE_ROWS = 100_000
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


@dataclass
class InventoryStats:
    """What one report contained, for the summary and for CloudWatch's storage metrics."""

    snapshot_date: date
    rows: int
    files: list[dict]
    bytes_by_class: dict[str, int]
    archived_objects: dict[str, int]
    latest_objects: int


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
