"""S3 Inventory reports exactly as AWS writes them: a manifest folder per day, gzip CSV or Parquet data
files, ``manifest.json`` with per-file size and MD5, and ``manifest.checksum``.

Snapshot rule: the report in folder ``<D>T01-00Z`` lists the bucket as it stood at ``D`` 00:00 UTC,
i.e. every version created before that instant and not yet removed by lifecycle. A version is latest
unless a newer version or delete marker was created before that instant. Storage class is the one
its lifecycle lane gives at that age.

The report's files and manifest are written by ``inventory_report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic.inventory_report import InventoryStats, write_report
from synthetic.layout import (
    DAY_SECONDS,
    SOURCE_BUCKET,
    epoch,
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

BIG_ROWS_PER_FILE = 500_000
BIG_USERS = 1_000_000  # owners of a large synthetic report (user ids 1001 .. 1_001_000)

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
    """One day's rows with only what the CSV file (``inventory_report._csv_text``) and the report's totals
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
