"""Writing a detector's TEMP output into its warehouse table, one day at a time.

The detectors (``bucketlens.anomaly``) define their output columns; the warehouse table takes the same
shape the first time it is written, so the two cannot drift apart.
"""

from resources.warehouse import Replacement, replace_partitions


def store_day(con, table: str, stage: str, day) -> int:
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM {stage} LIMIT 0")
    (rows,) = replace_partitions(con, [Replacement(table, stage, "usage_date = ?", [day])])
    return rows
