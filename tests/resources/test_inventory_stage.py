"""The day's inventory stage: one manifest's stage becomes the day's without a copy; several are
combined by column name (two inventory configurations, e.g. two buckets, on one day)."""

import duckdb

from resources.inventory_source import STAGE, _combine_stages


def _stage(con, name: str, rows: list[tuple[str, int]]) -> None:
    con.execute(f"CREATE TEMP TABLE {name} (key VARCHAR, size BIGINT)")
    con.executemany(f"INSERT INTO {name} VALUES (?, ?)", rows)


def test_one_manifest_is_renamed_and_a_stale_day_stage_is_replaced():
    con = duckdb.connect()
    _stage(con, STAGE, [("yesterday", 1)])  # left from the previous day of a backfill window
    _stage(con, f"{STAGE}_0", [("a", 1), ("b", 2)])
    _combine_stages(con, 1)
    assert con.execute(f"SELECT key, size FROM {STAGE} ORDER BY key").fetchall() == [("a", 1), ("b", 2)]
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {STAGE}


def test_several_manifests_are_combined_by_name():
    con = duckdb.connect()
    _stage(con, f"{STAGE}_0", [("a", 1)])
    con.execute(f"CREATE TEMP TABLE {STAGE}_1 (size BIGINT, key VARCHAR)")
    con.execute(f"INSERT INTO {STAGE}_1 VALUES (5, 'z')")
    _combine_stages(con, 2)
    assert con.execute(f"SELECT key, size FROM {STAGE} ORDER BY key").fetchall() == [("a", 1), ("z", 5)]
