"""The Spark engine on a real local Spark session: each catalog query gives exactly DuckDB's rows on the
tiny generated month, whose raw layer holds the edge cases (quarantined lines, records delivered in a
later day's log object, keys URL-encoded twice, 403s from inside and outside the owner's accounts)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from assets.usage.user_daily_requests import TABLE_DDL as REQUESTS_DDL
from assets.usage.user_daily_storage import TABLE_DDL as STORAGE_DDL
from bucketlens.engines.base import DuckDBEngine
from bucketlens.engines.dialects import raw_tables, transpile_to
from bucketlens.engines.spark import SparkEngine, spark_parameters
from bucketlens.engines.sql_catalog import catalog

OWNER = "123456789012"  # the generated bucket owner's account (the cost export's usage account)


@pytest.fixture(scope="module")
def warehouse(raw_warehouse, tmp_path_factory):
    """A connection to a copy of the tiny month's warehouse (so no other test sees the stage tables)."""
    path = tmp_path_factory.mktemp("spark-wh") / "warehouse.duckdb"
    path.write_bytes((raw_warehouse / "warehouse.duckdb").read_bytes())
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS usage")
    con.execute(STORAGE_DDL)
    con.execute(REQUESTS_DDL)
    yield con
    con.close()


def _both(con, spark_session, lake: Path, query: str, table: str, params: dict) -> tuple[int, int, int]:
    """(rows, rows only DuckDB gave, rows only Spark gave) of ``query`` on each engine."""
    for engine in (DuckDBEngine(), SparkEngine(lake=lake)):
        con.execute(f"CREATE OR REPLACE TEMP TABLE stage_{engine.name} AS SELECT * FROM {table} LIMIT 0")
        engine.aggregate(con, query, params, f"stage_{engine.name}")
    count = con.execute("SELECT count(*) FROM stage_duckdb").fetchall()[0][0]
    only = [
        con.execute(f"SELECT count(*) FROM (SELECT * FROM stage_{a} EXCEPT ALL SELECT * FROM stage_{b})").fetchall()[0][0]
        for a, b in (("duckdb", "spark"), ("spark", "duckdb"))
    ]  # fmt: skip
    return count, *only


def test_the_generated_month_holds_the_edge_cases(warehouse):
    one = lambda sql: warehouse.execute(sql).fetchall()[0][0]  # noqa: E731
    assert one("SELECT count(*) FROM raw.quarantine WHERE source = 'access_log_requests'") > 0
    # a REST key encoded twice in the log is stored decoded, and matches the inventory's key
    assert (
        one(
            "SELECT count(*) FROM raw.access_log_requests r JOIN raw.inventory_objects i "
            "ON i.snapshot_date = r.usage_date AND i.key = r.key WHERE r.key LIKE '% %' OR r.key LIKE '%é%'"
        )
        > 0
    )
    # late records: delivered in a log object named after a later day than the request's
    assert (
        one(
            "SELECT count(*) FROM raw.access_log_requests WHERE "
            r"regexp_extract(source_file, '/(\d{4}-\d{2}-\d{2})-\d{2}-\d{2}-\d{2}-', 1)::DATE > usage_date"
        )
        > 0
    )
    assert one(
        "SELECT count(*) FROM raw.access_log_requests WHERE http_status = 403 AND requester LIKE 'arn:%'"
    )


@pytest.mark.parametrize(
    ("query", "table", "accounts"),
    [
        ("user_daily_storage", "usage.user_daily_storage", None),
        ("user_daily_requests", "usage.user_daily_requests", [OWNER]),  # 403s from the owner: billed
        ("user_daily_requests", "usage.user_daily_requests", ["000000000000"]),  # from outside: not billed
        ("user_daily_requests", "usage.user_daily_requests", []),  # owner unknown: only anonymous 403s free
    ],
)
def test_spark_gives_duckdbs_rows(warehouse, spark_session, tiny_source, tmp_path, query, table, accounts):
    start = tiny_source.start
    params = {"start": start, "end": start + timedelta(days=tiny_source.days - 1)}
    if accounts is not None:
        params["owner_accounts"] = accounts
    rows, only_duckdb, only_spark = _both(warehouse, spark_session, tmp_path / "lake", query, table, params)
    assert rows > 1000 and (only_duckdb, only_spark) == (0, 0)


def test_a_window_inside_the_month_and_a_rerun_replace_the_lakes_days(
    warehouse, spark_session, tiny_source, tmp_path
):
    """A later window rewrites only its own days in the lake; an empty window gives no rows, not an error."""
    lake = tmp_path / "lake"
    day = tiny_source.start + timedelta(days=3)
    params = {"start": day, "end": day + timedelta(days=1), "owner_accounts": [OWNER]}
    assert _both(warehouse, spark_session, lake, "user_daily_requests", "usage.user_daily_requests", params)[
        1:
    ] == (0, 0)
    assert _both(warehouse, spark_session, lake, "user_daily_requests", "usage.user_daily_requests", params)[
        1:
    ] == (0, 0)
    days = sorted(p.name for p in (lake / "access_log_requests").iterdir())
    assert days == [f"usage_date={day}", f"usage_date={day + timedelta(days=1)}"]
    empty = {"start": day + timedelta(days=400), "end": day + timedelta(days=400)}
    assert _both(warehouse, spark_session, lake, "user_daily_storage", "usage.user_daily_storage", empty) == (
        0,
        0,
        0,
    )


def test_spark_sql_is_transpiled_from_the_one_copy():
    """What the Spark engine runs: the catalog's DuckDB SQL with Spark's rewrites, parameters named."""
    storage = transpile_to("spark", catalog()["user_daily_storage"])
    for text in ("FROM bucketlens_raw_inventory_objects", "XXHASH64(usage_date, user_id, e_tag, size)",
                 "CAST(SUM(size) AS DECIMAL(38, 0)) * 24", "BETWEEN :start AND :end"):  # fmt: skip
        assert text in storage, text
    for text in ("MATERIALIZED (", "GROUP BY ALL", "INT128", "FROM raw.", "$start"):
        assert text not in storage, text
    requests = transpile_to("spark", catalog()["user_daily_requests"])
    for text in ("SIZE(CAST(:owner_accounts AS ARRAY<STRING>)) > 0", "RLIKE(UPPER(TRIM(r.operation)), '^(?:",
                 "IN (SELECT usage_date, bucket, key FROM requests"):  # fmt: skip
        assert text in requests, text
    assert raw_tables(catalog()["user_daily_requests"]) == ["access_log_requests", "inventory_objects"]
    params = {"start": 1, "end": 2, "owner_accounts": ("a",), "unused": 3}
    assert spark_parameters(requests, params) == {"start": 1, "end": 2, "owner_accounts": ["a"]}
