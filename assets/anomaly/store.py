"""Writing a detector's TEMP output over a window of days into its warehouse table, and checking it.

The detectors (``bucketlens.anomaly``) define their output columns; the warehouse table takes the same
shape the first time it is written, so the two cannot drift apart.
"""

from assets.window import Check
from resources.warehouse import drop_tables, replace_days


def store_window(con, table: str, stage: str, days) -> dict:
    """Replace exactly the window's days of ``table`` by ``stage`` (one transaction); rows per day."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM {stage} LIMIT 0")
    return replace_days(con, table, stage, "usage_date", days)


def detect_and_store(con, detect_window, rules, table: str, stage: str, days) -> dict:
    """Run a detector (``bucketlens.anomaly.stage_*_window``) over the window into TEMP ``stage``, dropped
    first since one connection serves a whole backfill, then store it (``store_window``); rows per day.
    Why shared: every detector asset loads its window this way, only the detector and tables differ."""
    drop_tables(con, stage)
    detect_window(con, days[0], days[-1], rules, out=stage)
    return store_window(con, table, stage, days)


def counted_problems(con, sql: str, params, days, noun: str) -> dict:
    """Each day's check from one grouped SQL query of problem counts (first column the day, each other
    column a kind of problem; a day without a row has none): passes when all are 0, else names each
    non-zero count, e.g. ``2026-10-03: 2 flag(s) under threshold``."""
    cursor = con.execute(sql, params)
    kinds = [d[0] for d in cursor.description][1:]
    found = {row[0]: row[1:] for row in cursor.fetchall()}
    checks = {}
    for day in days:
        counts = {kind: int(n) for kind, n in zip(kinds, found.get(day, [0] * len(kinds)), strict=True)}
        bad = [f"{n} {noun}(s) {kind.replace('_', ' ')}" for kind, n in counts.items() if n]
        checks[day] = Check(not bad, counts, description=f"{day}: " + ", ".join(bad) if bad else None)
    return checks
