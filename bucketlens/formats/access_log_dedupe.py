"""Dropping repeated deliveries of access-log records: the first seen (file order, then line) wins.

Why this module exists: S3 delivers log records best effort and sometimes twice, so every staged day
keeps one record per (request ID, operation, key). Two entry points share that rule: the per-run
stage (:func:`delete_repeats`, on the parse target's working columns) and the per-day pick from the
per-object records (:func:`stage_first_seen`).
"""

from __future__ import annotations

import datetime
import re

from bucketlens.formats.access_log_schema import COLUMN_DEFS, COLUMNS, FILE_OF_ROW, plain_identifier


def delete_repeats(con, stage: str, names: list[str]) -> int:
    """Delete every record of ``stage`` but the first seen of its (request ID, operation, key).

    Repeats are rare: group the 8-byte dedupe keys, then rank on the strings themselves only the
    rows of repeated keys (a hash collision ranks two different records apart, never together), and
    delete by row_key. (Not by rowid: DuckDB 2.0 returned rowids from a filtered scan of a large
    TEMP table that its DELETE did not all find — 11,000 of 49,000 repeats survived at 10 M rows.)"""
    keys, repeats = f"{stage}__repeated_keys", f"{stage}__repeats"
    # The repeated keys are materialised first: as the build side of the join that finds their
    # rows, the same aggregate ran 25 times slower (DuckDB 2.0, 10 M rows).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT dedupe_key FROM {stage} "
        "WHERE dedupe_key IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
    )
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {repeats} AS
            SELECT s.row_key FROM {stage} s SEMI JOIN {keys} k ON s.dedupe_key = k.dedupe_key
            QUALIFY row_number() OVER (PARTITION BY s.request_id, s.operation, s.key
                                       ORDER BY list_position($names, {FILE_OF_ROW}), s.source_line) > 1
            """,
            {"names": names},
        )
        return deleted_rows(
            con, f"DELETE FROM {stage} USING {repeats} r WHERE {stage}.row_key = r.row_key", {}
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {keys}")
        con.execute(f"DROP TABLE IF EXISTS {repeats}")


def deleted_rows(con, sql: str, params: dict) -> int:
    return int(con.execute(sql, params).fetchall()[0][0])


def stage_first_seen(con, records: str, stage: str, day: datetime.date, files: list[str]) -> tuple[int, int]:
    """Fill table ``stage`` with the records of ``day`` in ``files`` (display names, in reading
    order), each (request ID, operation, key) once; return (rows staged, records of the day).

    Delivery is best effort and may repeat a record: the first seen (file order, then line) is kept.
    Repeats are rare, so records are grouped on a hash of the key alone and only the rows of
    repeated hashes are ranked on the key itself (a hash collision ranks two keys apart, never
    together); a record without a request ID is never treated as a repeat. ``records`` may be any
    table with the warehouse columns (a TEMP stage or the per-object ledger ``raw.access_log_records``).

    A plain ``stage`` name is a TEMP table, (re)created empty. A schema-qualified one is a warehouse
    table written in place: the caller has emptied the day inside its open transaction (so the day's
    rows are written once, not staged and copied).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", records):
        raise ValueError(f"not a plain table name: {records!r}")
    if "." in stage:
        schema, table = stage.split(".", 1)
        stage, repeats = f"{plain_identifier(schema)}.{plain_identifier(table)}", f"{schema}_{table}__repeats"
    else:
        stage, repeats = plain_identifier(stage), f"{stage}__repeats"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} ({COLUMN_DEFS})")
    params = {"day": day, "files": files}
    source = (
        f"(SELECT * FROM {records} SEMI JOIN (SELECT unnest($files) AS name) f ON source_file = f.name "
        "WHERE usage_date = $day)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {repeats}_keys AS
        SELECT hash(request_id, operation, key) AS h FROM {source}
        WHERE request_id IS NOT NULL GROUP BY h HAVING count(*) > 1
        """,
        params,
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {repeats} AS
        SELECT d.source_file, d.source_line FROM {source} d
        SEMI JOIN {repeats}_keys r ON hash(d.request_id, d.operation, d.key) = r.h
        WHERE d.request_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY d.request_id, d.operation, d.key
                                   ORDER BY list_position($files, d.source_file), d.source_line) > 1
        """,
        params,
    )
    column_list = ", ".join(name for name, _ in COLUMNS)
    con.execute(
        f"""
        INSERT INTO {stage} ({column_list})
        SELECT s.* FROM {source} s
        ANTI JOIN {repeats} r ON s.source_file = r.source_file AND s.source_line = r.source_line
        """,
        params,
    )
    con.execute(f"DROP TABLE {repeats}")
    con.execute(f"DROP TABLE {repeats}_keys")
    rows, in_day = con.execute(
        f"SELECT (SELECT count(*) FROM {stage} WHERE usage_date = $day), (SELECT count(*) FROM {source})",
        params,
    ).fetchall()[0]
    return int(rows), int(in_day)
