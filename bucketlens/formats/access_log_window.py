"""The first-seen request records of many days at once: ``stage_first_seen`` over a window.

``bucketlens.formats.access_log_dedupe.stage_first_seen`` builds one day from its log objects' records: the
records whose own timestamp is on the day, in the objects that can hold it (the day's and the next
morning's), each (request ID, operation, key) kept once — the first seen, in the day's object order,
then line. A backfill of N days called it N times, each a scan of the records and three statements.
This does the same for every day of a window in two statements: which objects each day reads (and in
which order) is a table, ``objects``, so one join gives every day its own records and one ranking,
partitioned by day, finds every day's repeats. A day's rows are exactly those of ``stage_first_seen``
for that day with that day's objects (``tests/formats/test_access_log_window.py`` compares them).
"""

from __future__ import annotations

import re
from datetime import date

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")

OBJECTS_DDL = (
    "CREATE OR REPLACE TEMP TABLE {objects} (usage_date DATE, source_file VARCHAR, file_order INTEGER, "
    "own BOOLEAN)"
)

# The window's candidate records: a record counts for its own day only, and only from that day's objects.
_SOURCE = """(
    SELECT r.*, o.file_order FROM {records} r
    JOIN {objects} o ON r.usage_date = o.usage_date AND r.source_file = o.source_file
    WHERE r.usage_date BETWEEN $start AND $end
)"""
# Repeats are rare: group a 64-bit hash of the dedupe key, then rank only the records of repeated hashes
# on the key itself (as stage_first_seen: equal keys, NULLs included, hash equal, so a repeated key is
# ranked whole; a collision only ranks another key beside it). ``candidates`` is read twice and NOT
# MATERIALIZED: two reads of the records cost less than buffering the day's 5 M with their strings
# (the bench day: 1.52-1.66 -> 1.30 s).
_REPEATS = """
CREATE OR REPLACE TEMP TABLE {repeats} AS
WITH candidates AS NOT MATERIALIZED (
    SELECT usage_date, file_order, source_file, source_line, request_id, operation, key,
           hash(usage_date, request_id, operation, key) AS dedupe_hash
    FROM {source}
    WHERE request_id IS NOT NULL
)
SELECT c.usage_date, c.source_file, c.source_line FROM candidates c
SEMI JOIN (SELECT dedupe_hash FROM candidates GROUP BY ALL HAVING count(*) > 1) r ON c.dedupe_hash = r.dedupe_hash
QUALIFY row_number() OVER (PARTITION BY c.usage_date, c.request_id, c.operation, c.key
                           ORDER BY c.file_order, c.source_line) > 1
"""
_INSERT = """
INSERT INTO {stage} ({columns})
SELECT s.* EXCLUDE (file_order) FROM {source} s
ANTI JOIN {repeats} x ON s.source_file = x.source_file AND s.source_line = x.source_line
"""
_COUNTS = """
SELECT d.usage_date, coalesce(s.n, 0), coalesce(x.n, 0)
FROM (SELECT unnest($days::DATE[]) AS usage_date) d
LEFT JOIN (SELECT usage_date, count(*) AS n FROM {stage} WHERE usage_date BETWEEN $start AND $end GROUP BY ALL) s
       USING (usage_date)
LEFT JOIN (SELECT usage_date, count(*) AS n FROM {repeats} GROUP BY ALL) x USING (usage_date)
"""


def _table(name: str) -> str:
    if not _TABLE.fullmatch(name):
        raise ValueError(f"not a plain table name: {name!r}")
    return name


def create_objects_table(con, objects: str, files_by_day: dict[date, tuple[list[str], list[str]]]) -> None:
    """Fill TEMP table ``objects`` from ``{day: (objects to read in order, the day's own objects)}``."""
    objects = _table(objects)
    con.execute(OBJECTS_DDL.format(objects=objects))
    days, files, orders, own = [], [], [], []
    for day, (read, owned) in files_by_day.items():
        mine = set(owned)
        for position, name in enumerate(read, start=1):
            days.append(day)
            files.append(name)
            orders.append(position)
            own.append(name in mine)
    con.execute(
        f"INSERT INTO {objects} SELECT unnest(?::DATE[]), unnest(?::VARCHAR[]), unnest(?::INTEGER[]), "
        "unnest(?::BOOLEAN[])",
        [days, files, orders, own],
    )


def stage_first_seen_days(
    con, records: str, stage: str, objects: str, days: list[date], columns: list[str]
) -> dict[date, tuple[int, int]]:
    """Fill ``stage`` with every day's first-seen records; return ``{day: (rows, records of the day)}``.

    ``objects`` is a table of (usage_date, source_file, file_order) — each day's objects in reading
    order (see :func:`create_objects_table`); ``records`` any table with the warehouse columns (the
    ledger ``raw.access_log_records``); ``stage`` a warehouse table whose days the caller emptied inside
    its open transaction, or a TEMP table it created; ``columns`` the warehouse columns in order.
    ``days`` are consecutive (the window).
    """
    records, stage, objects = _table(records), _table(stage), _table(objects)
    repeats = f"{stage.replace('.', '_')}__window_repeats"
    source = _SOURCE.format(records=records, objects=objects)
    window = {"start": days[0], "end": days[-1]}
    con.execute(_REPEATS.format(repeats=repeats, source=source), window)
    con.execute(
        _INSERT.format(stage=stage, columns=", ".join(columns), source=source, repeats=repeats), window
    )
    counts = con.execute(_COUNTS.format(stage=stage, repeats=repeats), {**window, "days": days}).fetchall()
    con.execute(f"DROP TABLE {repeats}")
    return {day: (int(rows), int(rows) + int(repeated)) for day, rows, repeated in counts}
