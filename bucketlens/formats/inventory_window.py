"""S3 Inventory reports of many days staged together: one read per format instead of one per file.

A backfill of N days used to stage each day's manifest on its own (``stage_inventory``): a day's report
is typically one gzip CSV file, which DuckDB decompresses on one thread, and every file paid its own
statements. Here the data files of every manifest of a window that share a layout (format and
columns) are read by ONE ``read_csv`` / ``read_parquet`` over all of them — DuckDB reads the files in
parallel — and each row takes its day and manifest from the file it came from. The rows and the
quarantined rows are exactly those of ``stage_inventory`` run on each manifest (tested:
``tests/formats/test_inventory_window.py``). ORC, which DuckDB cannot read, still goes a stripe at a
time through pyarrow.

The target is a table the caller holds a transaction on (the warehouse table, its window emptied, or a
TEMP table): a failure raises and the caller's ROLLBACK undoes everything, so there is no undo here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from bucketlens.formats import inventory as single
from bucketlens.formats.errors import SourceFormatError
from bucketlens.formats.inventory_manifest import InventoryManifest
from bucketlens.formats.inventory_sql import (
    CSV_BAD_KEYS_FROM_STAGE_WINDOW,
    CSV_BAD_KEYS_TO_QUARANTINE_WINDOW,
    CSV_KEY_EXPR_WINDOW,
    CSV_READ_WINDOW,
    CSV_REJECTS_TO_QUARANTINE_WINDOW,
    INSERT_STAGE,
    PARQUET_SOURCE,
    QUARANTINE_DDL,
    WINDOW_DAY_EXPR,
    WINDOW_MANIFEST_EXPR,
)
from bucketlens.keys import KeyPattern


@dataclass(frozen=True)
class DayManifest:
    """One verified manifest of one day, with local copies of its data files."""

    day: date
    manifest: InventoryManifest
    local_files: dict[str, str]


@dataclass
class _Read:
    """Manifests read together: their data files in order, with each file's day and manifest."""

    manifests: list[DayManifest]
    keys: list[str]
    paths: list[str]
    days: list[date]
    manifest_keys: list[str]


def _read(manifests: list[DayManifest]) -> _Read:
    files = [(m, f.key) for m in manifests for f in m.manifest.files]
    for m, key in files:
        if key not in m.local_files:
            raise SourceFormatError(m.manifest.key, f"no local copy of data file(s) {key}")
    return _Read(
        manifests,
        keys=[key for _, key in files],
        paths=[m.local_files[key] for m, key in files],
        days=[m.day for m, _ in files],
        manifest_keys=[m.manifest.key for m, _ in files],
    )


def _insert(
    con, stage: str, read: _Read, source: str, source_params: list, present, key_expr, where, pattern
):
    """One INSERT of every file of ``read`` into ``stage``: day and manifest from each row's ``_file``."""
    exprs = {name: single._value_expr(name, present) for name in single.FIELD_TARGETS}
    sql = INSERT_STAGE.format(
        stage=stage,
        source=source,
        snapshot_date=WINDOW_DAY_EXPR,
        manifest_key=WINDOW_MANIFEST_EXPR,
        key_expr=key_expr,
        user_id=pattern.sql_expr("k.key"),
        where=where,
        **{single.FIELD_TARGETS[name][0]: expr for name, expr in exprs.items() if name != "key"},
    )
    con.execute(sql, [read.days, read.keys, read.manifest_keys, read.keys, *source_params])


def _stage_csv(con, stage: str, quarantine: str, read: _Read, pattern: KeyPattern) -> None:
    """Every CSV file of ``read`` (one fileSchema) in one read; rejects and undecodable keys quarantined
    with their file, as ``stage_inventory`` does file by file."""
    columns = read.manifests[0].manifest.columns
    single._drop_rejects(con)
    source = CSV_READ_WINDOW.format(columns=single._csv_columns(columns))
    present = {c: single.CSV_TYPES.get(c, "VARCHAR") for c in columns}
    _insert(
        con,
        stage,
        read,
        source,
        [read.keys, read.paths, read.paths],
        present,
        CSV_KEY_EXPR_WINDOW,
        "true",
        pattern,
    )
    rejected = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stage_inventory_rejects'"
    ).fetchall()[0][0]
    if rejected:
        con.execute(
            CSV_REJECTS_TO_QUARANTINE_WINDOW.format(quarantine=quarantine),
            [read.keys, read.paths, read.manifest_keys, read.paths],
        )
    window = [min(read.days), max(read.days), sorted(set(read.manifest_keys))]
    con.execute(CSV_BAD_KEYS_TO_QUARANTINE_WINDOW.format(stage=stage, quarantine=quarantine), window)
    con.execute(CSV_BAD_KEYS_FROM_STAGE_WINDOW.format(stage=stage), window)
    single._drop_rejects(con)


def _stage_parquet(con, stage: str, quarantine: str, read: _Read, present, pattern: KeyPattern) -> None:
    """Every Parquet file of ``read`` (one schema) in one read; rows that fail a cast quarantined."""
    params = [read.keys, read.paths, read.paths]
    checks = single._cast_failures(present)
    checks.append(("(src.key IS NULL)", "key is empty"))
    bad = " OR ".join(c for c, _ in checks)
    reason = "concat_ws('; ', " + ", ".join(f"CASE WHEN {c} THEN '{r}' END" for c, r in checks) + ")"
    con.execute(
        f"INSERT INTO {quarantine} SELECT src._file, src._line, to_json(src)::VARCHAR, {reason}, "
        f"{WINDOW_MANIFEST_EXPR} FROM {PARQUET_SOURCE} AS src WHERE {bad}",
        [read.manifest_keys, read.keys, *params],
    )
    _insert(con, stage, read, PARQUET_SOURCE, params, present, "src.key", f"NOT ({bad})", pattern)


def _parquet_layout(con, m: DayManifest) -> tuple:
    """The typed columns of a Parquet manifest (its first file's schema), so that only manifests of one
    schema share a read."""
    first = m.manifest.files[:1]
    params = [
        [f.key for f in first],
        [m.local_files[f.key] for f in first],
        [m.local_files[f.key] for f in first],
    ]
    try:
        return tuple(single._columns_of(con, PARQUET_SOURCE, params, first[0].key).items())
    except (duckdb.Error, OSError) as exc:
        raise SourceFormatError(first[0].key, f"cannot read Parquet data: {exc}") from exc


def stage_inventory_window(
    con: duckdb.DuckDBPyConnection,
    manifests: list[DayManifest],
    key_pattern: KeyPattern,
    stage: str,
    quarantine: str,
) -> None:
    """Stage every manifest of ``manifests`` into ``stage`` (see the module docstring) and its rows that
    cannot be typed into TEMP table ``quarantine`` (file, line_number, raw_text, reason, manifest_key;
    created if missing). ``stage`` must exist (a warehouse table or a TEMP table of its columns)."""
    con.execute(QUARANTINE_DDL.format(quarantine=quarantine))
    layouts: dict[tuple, list[DayManifest]] = {}
    for m in manifests:
        if m.manifest.file_format == "CSV":
            layout = ("CSV", tuple(m.manifest.columns))
        elif m.manifest.file_format == "Parquet":
            layout = ("Parquet", _parquet_layout(con, m))
        else:
            layout = ("ORC", m.manifest.key)
        layouts.setdefault(layout, []).append(m)
    for (file_format, shape), group in layouts.items():
        read = _read(group)
        try:
            if file_format == "CSV":
                _stage_csv(con, stage, quarantine, read, key_pattern)
            elif file_format == "Parquet":
                _stage_parquet(con, stage, quarantine, read, dict(shape), key_pattern)
            else:
                (m,) = group  # DuckDB cannot read ORC: pyarrow, a file and a stripe at a time
                for file, path in zip(m.manifest.files, read.paths, strict=True):
                    single._stage_orc(con, stage, quarantine, m.manifest, [file], [path], m.day, key_pattern)
        except SourceFormatError:
            raise
        except (duckdb.Error, OSError, ValueError) as exc:
            culprit = next((k for k, p in zip(read.keys, read.paths, strict=True) if p in str(exc)), None)
            name = culprit or (group[0].manifest.key if len(group) == 1 else f"{len(group)} manifests")
            raise SourceFormatError(name, f"cannot read {file_format} data: {exc}") from exc
