"""``BUCKETLENS_ENGINE=spark`` through the command line: the demo month (40 users × 35 days, seed 7)
materialized end to end by ``bucketlens run`` with the heavy steps on a real local Spark session, every
check as on the DuckDB engine, and the usage and cost tables equal to the DuckDB engine's row for row."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.usage import USAGE_ASSETS
from assets.usage.service_daily_kpis import service_daily_kpis
from tests.assets.raw_helpers import check_results, failure_messages, materialize_range
from tests.conftest import bucketlens_env

START, DAYS, USERS, SEED = date(2026, 11, 1), 35, 40, 7
END = START + timedelta(days=DAYS - 1)
# What the generated month shows on purpose, whatever the engine: the last day is billed by estimate,
# the labelled leaks are found, CloudWatch's sampled metrics and the logs disagree on a small bucket, and
# 40 users write so few lines that the few malformed ones pass 0.1 %.
FINDINGS = {
    "cost_line_items:day_covered_by_export",
    "service_daily_metrics:sources_agree_within_1_percent",
    "access_log_requests:quarantine_below_0_1_percent",
    "cdn_requests:quarantine_below_0_1_percent",  # one malformed CloudFront line in a 40-user day
}
LEAKS = "storage_leaks:no_"
COMPARED = ("usage", "cost")  # every table of these schemas; what follows reads only them
VOLATILE = {"loaded_at", "computed_at"}


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    from synthetic import generate

    root = tmp_path_factory.mktemp("spark-demo")
    generate(root / "source", START, DAYS, USERS, seed=SEED)
    return root


def _spark_run(root):
    """``bucketlens run --start --end`` with ``BUCKETLENS_ENGINE=spark`` in the environment: (home, the
    run's check results, the user_daily_* materializations' metadata)."""
    from bucketlens.settings import Settings
    from pipelines.cli import main
    from pipelines.instance import persistent_instance

    home, source = root / "spark-home", root / "source"
    with bucketlens_env(home, source, f"sqlite:///{source / 'users.sqlite'}", BUCKETLENS_ENGINE="spark"):
        assert main(["run", "--start", START.isoformat(), "--end", END.isoformat()]) in (0, 1)
        instance = persistent_instance(Settings.from_env())
    (run,) = instance.get_runs()
    assert run.is_success
    checks = {}
    for record in instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        checks[f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"] = evaluation
    metadata = {
        name: instance.get_latest_materialization_event(dg.AssetKey(name)).asset_materialization.metadata
        for name in ("user_daily_storage", "user_daily_requests")
    }
    instance.dispose()
    return home, checks, metadata


def _tables(con, catalog: str) -> dict[str, list[str]]:
    """Table → its compared columns (doubles rounded to 1e-9: DuckDB's parallel sums differ in the last
    bit from one run to the next, whatever the engine)."""
    rows = con.execute(
        "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema IN ? ORDER BY table_schema, table_name, ordinal_position",
        [catalog, list(COMPARED)],
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column, dtype in rows:
        if column not in VOLATILE:
            tables.setdefault(table, []).append(
                f'round("{column}", 9)' if dtype == "DOUBLE" else f'"{column}"'
            )
    return tables


def test_spark_engine_materializes_the_demo_month_like_duckdb(month, spark_session):
    home, checks, metadata = _spark_run(month)
    failing = {name for name, c in checks.items() if not c.passed}
    assert {c for c in failing if not c.startswith(LEAKS)} <= FINDINGS, failing
    for name in ("user_daily_storage:bytes_match_inventory", "user_daily_requests:requests_match_logs",
                 "user_daily_cost:reconciles_to_the_bill"):  # fmt: skip
        assert checks[name].passed and checks[name].metadata["days_checked"].value == DAYS, name
    for meta in metadata.values():  # the UI shows the engine, its job ids and the Spark UI
        assert meta["engine"].value == "spark"
        assert meta["engine_ids"].value and meta["engine_link"].value.startswith("http://127.0.0.1:")

    reference = month / "duckdb-home"
    source = month / "source"
    result = materialize_range(
        reference, source, f"sqlite:///{source / 'users.sqlite'}",
        [START + timedelta(days=i) for i in range(DAYS)],
        [*RAW_ASSETS, *USAGE_ASSETS, service_daily_kpis, *COST_ASSETS],
    )  # fmt: skip
    assert result.success, failure_messages(result)
    for name in ("user_daily_storage", "user_daily_requests"):  # the default engine says so too
        assert result.asset_materializations_for_node(name)[0].metadata["engine"].value == "duckdb"
    duckdb_checks = {name: c.passed for name, c in check_results(result).items()}
    assert duckdb_checks == {name: checks[name].passed for name in duckdb_checks}

    con = duckdb.connect(str(reference / "warehouse.duckdb"), read_only=True)
    con.execute(f"ATTACH '{home / 'warehouse.duckdb'}' AS spark (READ_ONLY)")
    tables = _tables(con, "warehouse")
    assert {"usage.user_daily_storage", "usage.user_daily_requests", "cost.user_daily_cost"} <= set(tables)
    assert _tables(con, "spark") == tables
    for table, columns in tables.items():
        select = ", ".join(columns)
        count = con.execute(f"SELECT count(*) FROM warehouse.{table}").fetchall()[0][0]
        differ = con.execute(
            f"SELECT count(*) FROM ((SELECT {select} FROM warehouse.{table} EXCEPT ALL SELECT {select} "
            f"FROM spark.{table}) UNION ALL (SELECT {select} FROM spark.{table} EXCEPT ALL "
            f"SELECT {select} FROM warehouse.{table}))"
        ).fetchall()[0][0]
        assert (table, differ) == (table, 0)
        assert count > 0 or table not in ("usage.user_daily_storage", "cost.user_daily_cost")
    con.close()
