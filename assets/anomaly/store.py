"""Writing a detector's TEMP output into its warehouse table, one day at a time, and checking it.

The detectors (``bucketlens.anomaly``) define their output columns; the warehouse table takes the same
shape the first time it is written, so the two cannot drift apart.
"""

from assets.window import Check
from resources.warehouse import Replacement, replace_partitions


def store_day(con, table: str, stage: str, day) -> int:
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM {stage} LIMIT 0")
    (rows,) = replace_partitions(con, [Replacement(table, stage, "usage_date = ?", [day])])
    return rows


def counted_problems(con, sql: str, params, day, noun: str) -> Check:
    """A check from one SQL row of problem counts (each column a kind of problem): passes when all are 0,
    else names each non-zero count, e.g. ``2026-10-03: 2 flag(s) under threshold``."""
    cursor = con.execute(sql, params)
    counts = {d[0]: int(v) for d, v in zip(cursor.description, cursor.fetchall()[0], strict=True)}
    bad = [f"{n} {noun}(s) {kind.replace('_', ' ')}" for kind, n in counts.items() if n]
    return Check(not bad, counts, description=f"{day}: " + ", ".join(bad) if bad else None)
