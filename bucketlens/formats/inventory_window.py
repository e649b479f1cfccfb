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
    PARQUET_INSERT_SOURCE_WINDOW,
    PARQUET_SOURCE,
    PARQUET_SOURCE_WINDOW,
    QUARANTINE_DDL,
    WINDOW_FILES_DDL,
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


FILES = "stage_inventory_window_files"


def _read(con, manifests: list[DayManifest]) -> _Read:
    """The files of ``manifests`` in reading order, also as TEMP table FILES for the read's join."""
    files = [(m, f.key) for m in manifests for f in m.manifest.files]
    for m, key in files:
        if key not in m.local_files:
            raise SourceFormatError(m.manifest.key, f"no local copy of data file(s) {key}")
    read = _Read(
        manifests,
        keys=[key for _, key in files],
        paths=[m.local_files[key] for m, key in files],
        days=[m.day for m, _ in files],
        manifest_keys=[m.manifest.key for m, _ in files],
    )
    con.execute(WINDOW_FILES_DDL.format(files=FILES))
    con.execute(
        f"INSERT INTO {FILES} SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), unnest(?::DATE[]), "
        "unnest(?::VARCHAR[])",
        [read.paths, read.keys, read.days, read.manifest_keys],
    )
    return read


def _insert(
    con, stage: str, source: str, paths: list[str], present, key_expr: str, where: str, pattern
) -> None:
    """One INSERT of every file of a read into ``stage``: day and manifest from each row's file."""
    sql = single.insert_stage_sql(
        stage, source, present, key_expr, where, pattern, "src._day", "src._manifest"
    )
    con.execute(sql, [paths])


def _stage_csv(con, stage: str, quarantine: str, read: _Read, pattern: KeyPattern) -> None:
    """Every CSV file of ``read`` (one fileSchema) in one read; rejects and undecodable keys quarantined
    with their file, as ``stage_inventory`` does file by file."""
    columns = read.manifests[0].manifest.columns
    single._drop_rejects(con)
    source = CSV_READ_WINDOW.format(columns=single._csv_columns(columns), files=FILES)
    present = {c: single.CSV_TYPES.get(c, "VARCHAR") for c in columns}
    _insert(con, stage, source, read.paths, present, CSV_KEY_EXPR_WINDOW, "true", pattern)
    rejected = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stage_inventory_rejects'"
    ).fetchall()[0][0]
    if rejected:
        con.execute(CSV_REJECTS_TO_QUARANTINE_WINDOW.format(quarantine=quarantine, files=FILES))
    window = [min(read.days), max(read.days)]
    con.execute(
        CSV_BAD_KEYS_TO_QUARANTINE_WINDOW.format(stage=stage, quarantine=quarantine, files=FILES), window
    )
    con.execute(CSV_BAD_KEYS_FROM_STAGE_WINDOW.format(stage=stage, files=FILES), window)
    single._drop_rejects(con)


def _stage_parquet(con, stage: str, quarantine: str, read: _Read, present, pattern: KeyPattern) -> None:
    """Every Parquet file of ``read`` (one schema) in one read; rows that fail a cast quarantined."""
    checks = single._cast_failures(present)
    checks.append(("(src.key IS NULL)", "key is empty"))
    bad = " OR ".join(c for c, _ in checks)
    reason = "concat_ws('; ', " + ", ".join(f"CASE WHEN {c} THEN '{r}' END" for c, r in checks) + ")"
    con.execute(
        f"INSERT INTO {quarantine} SELECT src._file, src._line, to_json(src)::VARCHAR, {reason}, m.manifest_key "
        f"FROM {PARQUET_SOURCE_WINDOW.format(files=FILES)} AS src JOIN {FILES} m ON src._file = m.file_key "
        f"WHERE {bad}",
        [read.paths],
    )
    source = PARQUET_INSERT_SOURCE_WINDOW.format(files=FILES)
    _insert(con, stage, source, read.paths, present, "src.key", f"NOT ({bad})", pattern)


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
    reads: list[tuple[tuple, list[DayManifest], set]] = []
    for m in manifests:
        if m.manifest.file_format == "CSV":
            layout = ("CSV", tuple(m.manifest.columns))
        elif m.manifest.file_format == "Parquet":
            layout = ("Parquet", _parquet_layout(con, m))
        else:
            layout = ("ORC", m.manifest.key)
        paths = {m.local_files.get(f.key) for f in m.manifest.files}
        # a read lists each file once: a file two manifests share (a copied report) goes to another read
        read = next((r for r in reversed(reads) if r[0] == layout and not paths & r[2]), None)
        if read is None:
            read = (layout, [], set())
            reads.append(read)
        read[1].append(m)
        read[2].update(paths)
    for (file_format, shape), group, _ in reads:
        read = _read(con, group)
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
    con.execute(f"DROP TABLE IF EXISTS {FILES}")
