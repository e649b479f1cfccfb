"""S3 Inventory reports (CSV.gz, Parquet, ORC) staged into DuckDB.

An inventory report is the only complete, AWS-authored list of what a bucket stores: every version
AWS bills, with its size and storage class. It is only trustworthy when all of it is read: the manifest
and its files are verified first (``bucketlens.formats.inventory_manifest``), and a manifest is staged
entirely or not at all. Values AWS writes differently per format are normalised
here so the warehouse sees one shape: CSV keys are form-URL-encoded (Parquet/ORC keys are raw), CSV
has no header (the column order is the manifest's ``fileSchema``), and timestamps are UTC.

Rows that cannot be typed (a size that is not a number, an unparsable time, a key that is not valid
form encoding) are never dropped silently: they go to a quarantine table with file and line and are
counted. The functions are pure: they read local files and stage TEMP tables on the caller's DuckDB
connection; downloading from S3 and replacing the warehouse partition belong to the asset.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.orc as orc

from bucketlens.duckdb_options import STAGING_SETTINGS, scoped_settings
from bucketlens.formats.errors import SourceFormatError
from bucketlens.formats.inventory_manifest import (
    REQUIRED_FIELDS,
    InventoryManifest,
)
from bucketlens.formats.inventory_sql import (
    CSV_BAD_KEYS_FROM_STAGE,
    CSV_BAD_KEYS_TO_QUARANTINE,
    CSV_KEY_EXPR,
    CSV_READ,
    CSV_REJECTS_TO_QUARANTINE,
    INSERT_STAGE,
    LOAD_BY_STORAGE_CLASS,
    LOAD_SUMMARY,
    PARQUET_SOURCE,
    QUARANTINE_DDL,
)
from bucketlens.keys import KeyPattern
from bucketlens.schema import ZSTD, table_ddl

# Contract columns of raw.inventory_objects, in table order (the stage table has the same shape, so
# the asset can ``INSERT INTO raw.inventory_objects SELECT * FROM stage``).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("snapshot_date", "DATE"),
    ("bucket", "VARCHAR"),
    ("key", "VARCHAR"),
    ("version_id", "VARCHAR"),
    ("is_latest", "BOOLEAN"),
    ("is_delete_marker", "BOOLEAN"),
    ("size", "BIGINT"),
    ("last_modified", "TIMESTAMP"),
    ("storage_class", "VARCHAR"),
    ("e_tag", "VARCHAR"),
    ("user_id", "VARCHAR NOT NULL"),
    ("is_multipart_uploaded", "BOOLEAN"),
    ("intelligent_tiering_access_tier", "VARCHAR"),
    ("manifest_key", "VARCHAR"),
)
_COLUMN_LIST = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
# every version has its own key, version ID and (mostly) ETag: stored with zstd (bucketlens.schema)
COMPRESSION = {"key": ZSTD, "version_id": ZSTD, "e_tag": ZSTD}
TABLE_DDL = table_ddl("raw.inventory_objects", COLUMNS, COMPRESSION)
STAGE_DDL = "CREATE TEMP TABLE IF NOT EXISTS {stage} (\n    " + _COLUMN_LIST.replace("{", "{{") + "\n)"
QUARANTINE_TABLE = "stage_inventory_quarantine"  # for the default stage; otherwise "<stage>_quarantine"

# Inventory field -> contract column and the type it is cast to. Everything else stays VARCHAR.
FIELD_TARGETS: dict[str, tuple[str, str]] = {
    "bucket": ("bucket", "VARCHAR"),
    "key": ("key", "VARCHAR"),
    "version_id": ("version_id", "VARCHAR"),
    "is_latest": ("is_latest", "BOOLEAN"),
    "is_delete_marker": ("is_delete_marker", "BOOLEAN"),
    "size": ("size", "BIGINT"),
    "last_modified_date": ("last_modified", "TIMESTAMPTZ"),
    "storage_class": ("storage_class", "VARCHAR"),
    "e_tag": ("e_tag", "VARCHAR"),
    "is_multipart_uploaded": ("is_multipart_uploaded", "BOOLEAN"),
    "intelligent_tiering_access_tier": ("intelligent_tiering_access_tier", "VARCHAR"),
}


@dataclass
class InventoryLoad:
    """What one manifest contributed to the stage table."""

    manifest_key: str
    quarantine_table: str = QUARANTINE_TABLE  # TEMP table holding this manifest's quarantined rows
    files: int = 0
    rows: int = 0
    bytes: int = 0
    delete_markers: int = 0
    noncurrent_versions: int = 0
    quarantined: int = 0
    by_storage_class: dict[str, int] = field(default_factory=dict)  # versions (not delete markers)
    bytes_by_storage_class: dict[str, int] = field(default_factory=dict)


# read_csv types only the fields the contract uses, so a bad value elsewhere never rejects a row.
CSV_TYPES = {
    name: "TIMESTAMP WITH TIME ZONE" if t == "TIMESTAMPTZ" else t for name, (_, t) in FIELD_TARGETS.items()
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _csv_columns(columns: list[str]) -> str:
    """DuckDB ``columns={...}`` struct literal (names come from the manifest's fileSchema)."""
    return "{" + ", ".join(f"'{c}': '{CSV_TYPES.get(c, 'VARCHAR')}'" for c in columns) + "}"


def _value_expr(field_name: str, present: dict[str, str]) -> str:
    """Expression for one inventory field: typed (TRY_CAST when the source type differs), or NULL."""
    target, target_type = FIELD_TARGETS[field_name]
    if field_name not in present:
        return f"NULL::{target_type}"
    column = f"src.{_quote(field_name)}"
    source_type = present[field_name].upper()
    if target_type == "TIMESTAMPTZ":
        if source_type == "TIMESTAMP WITH TIME ZONE":
            return f"timezone('UTC', {column})"
        if source_type.startswith("TIMESTAMP"):
            return f"CAST({column} AS TIMESTAMP)"  # Parquet/ORC: naive, already UTC
        return f"timezone('UTC', TRY_CAST({column} AS TIMESTAMPTZ))"
    if source_type == target_type:
        return column
    return f"TRY_CAST({column} AS {target_type})"


def _cast_failures(present: dict[str, str]) -> list[tuple[str, str]]:
    """(condition, reason) pairs that detect a non-NULL value that did not cast."""
    checks = []
    for name, source_type in present.items():
        if name not in FIELD_TARGETS:
            continue
        expr = _value_expr(name, present)
        if expr != f"src.{_quote(name)}" and not source_type.upper().startswith("TIMESTAMP"):
            checks.append((f"(src.{_quote(name)} IS NOT NULL AND {expr} IS NULL)", f"bad {name}"))
    return checks


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    source: str,
    params: list,
    present: dict[str, str],
    key_expr: str,
    where: str,
    snapshot_date: date,
    key_pattern: KeyPattern,
    manifest_key: str,
) -> None:
    sql = insert_stage_sql(stage, source, present, key_expr, where, key_pattern, "?::DATE", "?")
    con.execute(sql, [snapshot_date, manifest_key, *params])


def insert_stage_sql(
    stage: str,
    source: str,
    present,
    key_expr: str,
    where: str,
    pattern: KeyPattern,
    snapshot_date: str,
    manifest_key: str,
) -> str:
    """``INSERT_STAGE`` filled for one read into ``stage``: every field the files have (``present``) as
    its typed column, the owner from the key, the day and manifest from the SQL expressions given. Why
    shared: a day's file and a window's files are loaded by the same statement, only where the day and
    the manifest come from differs (a parameter, or each row's file)."""
    exprs = {name: _value_expr(name, present) for name in FIELD_TARGETS}
    return INSERT_STAGE.format(
        stage=stage,
        source=source,
        snapshot_date=snapshot_date,
        manifest_key=manifest_key,
        key_expr=key_expr,
        user_id=pattern.sql_expr("k.key"),
        where=where,
        **{FIELD_TARGETS[name][0]: expr for name, expr in exprs.items() if name != "key"},
    )


def _drop_rejects(con) -> None:
    """DuckDB's rejects tables of the last CSV read (they would otherwise carry into the next file)."""
    for table in ("stage_inventory_rejects", "stage_inventory_reject_scans"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _stage_csv(con, stage, quarantine, manifest, files, paths, snapshot_date, key_pattern) -> None:
    """One pass over the gzip CSV; cast failures come back from DuckDB's rejects table with lines."""
    (file,), (path,) = files, paths
    _drop_rejects(con)
    source = CSV_READ.format(columns=_csv_columns(manifest.columns))
    # read_csv already typed the columns, so no TRY_CAST is needed: describe them as their targets.
    present = {c: CSV_TYPES.get(c, "VARCHAR") for c in manifest.columns}
    _insert_rows(
        con, stage, source, [path], present, CSV_KEY_EXPR, "true", snapshot_date, key_pattern, manifest.key
    )
    rejected = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stage_inventory_rejects'"
    ).fetchall()[0][0]
    if rejected:
        con.execute(CSV_REJECTS_TO_QUARANTINE.format(quarantine=quarantine), [file.key, manifest.key])
    con.execute(
        CSV_BAD_KEYS_TO_QUARANTINE.format(stage=stage, quarantine=quarantine),
        [file.key, manifest.key, snapshot_date, manifest.key],
    )
    con.execute(CSV_BAD_KEYS_FROM_STAGE.format(stage=stage), [snapshot_date, manifest.key])


def _typed_source_stage(
    con, stage, quarantine, manifest, file_key, source, params, present, snapshot_date, key_pattern
):
    """Parquet/ORC: values are typed already; anything that still fails a cast is quarantined.
    ``file_key`` names the data file; None when ``source`` spans files and names each row's in ``_file``."""
    checks = _cast_failures(present)
    checks.append(("(src.key IS NULL)", "key is empty"))
    bad = " OR ".join(c for c, _ in checks)
    reason = "concat_ws('; ', " + ", ".join(f"CASE WHEN {c} THEN '{r}' END" for c, r in checks) + ")"
    file_sql, file_params = ("?", [file_key]) if file_key is not None else ("src._file", [])
    con.execute(
        f"INSERT INTO {quarantine} SELECT {file_sql}, src._line, to_json(src)::VARCHAR, "
        f"{reason}, ? FROM {source} AS src WHERE {bad}",
        [*file_params, manifest.key, *params],
    )
    _insert_rows(
        con,
        stage,
        source,
        params,
        present,
        "src.key",
        f"NOT ({bad})",
        snapshot_date,
        key_pattern,
        manifest.key,
    )


def _columns_of(con, source: str, params: list, file_key: str) -> dict[str, str]:
    described = con.execute(f"DESCRIBE SELECT * FROM {source}", params).fetchall()
    present = {row[0]: row[1] for row in described if row[0] not in ("_line", "_file")}
    missing = [c for c in REQUIRED_FIELDS if c not in present]
    if missing:
        raise SourceFormatError(
            file_key, f"file has no {', '.join(missing)} column; it has {sorted(present)}"
        )
    return present


def _stage_parquet(con, stage, quarantine, manifest, files, paths, snapshot_date, key_pattern) -> None:
    params = [[f.key for f in files], paths, paths]
    present = _columns_of(con, PARQUET_SOURCE, params, files[0].key)
    _typed_source_stage(
        con, stage, quarantine, manifest, None, PARQUET_SOURCE, params, present, snapshot_date, key_pattern
    )


def _stage_orc(con, stage, quarantine, manifest, files, paths, snapshot_date, key_pattern) -> None:
    """DuckDB cannot read ORC: feed it pyarrow stripes one at a time, so memory stays one stripe."""
    (file,), (path,) = files, paths
    reader = orc.ORCFile(path)
    offset = 0
    view = "_bucketlens_orc_stripe"
    for index in range(reader.nstripes):
        batch = reader.read_stripe(index)
        lines = pa.array(range(offset + 1, offset + 1 + batch.num_rows), type=pa.int64())
        table = pa.Table.from_batches([batch]).append_column("_line", lines)
        offset += batch.num_rows
        con.register(view, table)
        try:
            present = _columns_of(con, view, [], file.key)
            _typed_source_stage(
                con, stage, quarantine, manifest, file.key, view, [], present, snapshot_date, key_pattern
            )
        finally:
            con.unregister(view)


DEFAULT_STAGE = "stage_inventory_objects"
READERS = {"CSV": _stage_csv, "Parquet": _stage_parquet, "ORC": _stage_orc}


def stage_inventory(
    con: duckdb.DuckDBPyConnection,
    manifest: InventoryManifest,
    local_files: dict[str, str],
    snapshot_date: date,
    key_pattern: KeyPattern,
    stage: str = "stage_inventory_objects",
    quarantine: str | None = None,
) -> InventoryLoad:
    """Stage every data file of ``manifest`` into table ``stage`` (all files or none).

    ``local_files`` maps each manifest file key to a verified local copy. Re-staging the same
    manifest replaces its earlier rows, so several manifests (buckets, configs) can share one stage.
    Rows that fail to type go to TEMP table ``quarantine`` (default ``stage_inventory_quarantine``
    for the default stage, else ``<stage>_quarantine``; named in the result) and are counted.

    ``stage`` is a TEMP table (created if missing) or, schema-qualified, a table of the warehouse
    written in place: then the caller holds the transaction and rolls it back if this raises, and
    applies ``STAGING_SETTINGS`` around it (a setting cannot be restored inside an aborted one). Writing
    in place spares a second copy of every row (at 100 M objects an uncompressed TEMP stage spilled
    22 GB to disk before it was inserted again).
    """
    in_place = "." in stage
    quarantine = quarantine or (
        QUARANTINE_TABLE if stage == DEFAULT_STAGE else f"{stage.replace('.', '_')}_quarantine"
    )
    missing = [f.key for f in manifest.files if f.key not in local_files]
    if missing:
        raise SourceFormatError(manifest.key, f"no local copy of data file(s) {', '.join(missing)}")
    con.execute(QUARANTINE_DDL.format(quarantine=quarantine))
    con.execute(f"DELETE FROM {quarantine} WHERE manifest_key = ?", [manifest.key])
    if not in_place:  # in place, the caller emptied the day already
        con.execute(STAGE_DDL.format(stage=stage))
        _forget(con, stage, quarantine, manifest.key, snapshot_date)
    read = READERS[manifest.file_format]

    def undo() -> None:  # in place, the caller's ROLLBACK undoes it (an aborted transaction runs nothing)
        if not in_place:
            _forget(con, stage, quarantine, manifest.key, snapshot_date)
            _drop_rejects(con)

    # Parquet is read a manifest at a time (one INSERT), CSV and ORC a file at a time.
    units = [manifest.files] if manifest.file_format == "Parquet" else [[f] for f in manifest.files]
    with nullcontext() if in_place else scoped_settings(con, STAGING_SETTINGS):
        for files in units:
            paths = [local_files[f.key] for f in files]
            try:
                read(con, stage, quarantine, manifest, files, paths, snapshot_date, key_pattern)
            except SourceFormatError:
                undo()
                raise
            except (duckdb.Error, OSError, ValueError) as exc:
                undo()
                raise SourceFormatError(
                    _culprit(manifest, files, paths, exc), f"cannot read {manifest.file_format} data: {exc}"
                ) from exc
            _drop_rejects(con)
    return _summarise(con, stage, quarantine, manifest, snapshot_date)


def _culprit(manifest: InventoryManifest, files: list, paths: list[str], exc: Exception) -> str:
    """The data file a read error is about: the one read, or the one whose path DuckDB names."""
    if len(files) == 1:
        return files[0].key
    return next((f.key for f, p in zip(files, paths, strict=True) if p in str(exc)), manifest.key)


def _forget(con, stage: str, quarantine: str, manifest_key: str, snapshot_date: date) -> None:
    con.execute(
        f"DELETE FROM {stage} WHERE snapshot_date = ? AND manifest_key = ?", [snapshot_date, manifest_key]
    )
    con.execute(f"DELETE FROM {quarantine} WHERE manifest_key = ?", [manifest_key])


def _summarise(
    con, stage: str, quarantine: str, manifest: InventoryManifest, snapshot_date: date
) -> InventoryLoad:
    rows, size, markers, noncurrent = con.execute(
        LOAD_SUMMARY.format(stage=stage), [snapshot_date, manifest.key]
    ).fetchall()[0]
    quarantined = con.execute(
        f"SELECT count(*) FROM {quarantine} WHERE manifest_key = ?", [manifest.key]
    ).fetchall()[0][0]
    classes = con.execute(LOAD_BY_STORAGE_CLASS.format(stage=stage), [snapshot_date, manifest.key]).fetchall()
    return InventoryLoad(
        manifest_key=manifest.key,
        quarantine_table=quarantine,
        files=len(manifest.files),
        rows=rows,
        bytes=int(size),
        delete_markers=markers,
        noncurrent_versions=noncurrent,
        quarantined=quarantined,
        by_storage_class={c: n for c, n, _ in classes},
        bytes_by_storage_class={c: int(b) for c, _, b in classes},
    )
