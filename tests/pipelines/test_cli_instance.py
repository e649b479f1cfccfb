"""The CLI's instance (pooled SQLite event log) and the demo's two passes over the month."""

from datetime import date, timedelta

import dagster as dg

from bucketlens.settings import Settings
from pipelines import demo
from pipelines.event_storage import PooledSqliteEventLogStorage
from pipelines.instance import persistent_instance
from pipelines.runner import DayOutcome


@dg.asset
def one_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info("hello from the asset")
    return dg.MaterializeResult(metadata={"rows": 3})


def test_events_written_through_the_pooled_log_are_read_by_the_stock_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    settings = Settings.from_env()
    instance = persistent_instance(settings)
    assert type(instance.event_log_storage) is PooledSqliteEventLogStorage
    job = dg.Definitions(assets=[one_asset]).resolve_implicit_global_asset_job_def()
    runs = [job.execute_in_process(instance=instance).run_id for _ in range(2)]
    written = {run_id: len(instance.all_logs(run_id)) for run_id in runs}
    instance.dispose()

    stock = dg.DagsterInstance.from_config(str(settings.dagster_home))  # what the UI and daemon open
    assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
    for run_id in runs:
        logs = stock.all_logs(run_id)
        assert len(logs) == written[run_id] > 5
        assert any(e.user_message == "hello from the asset" for e in logs)
        assert stock.get_run_by_id(run_id).is_success
    materialization = stock.get_latest_materialization_event(dg.AssetKey("one_asset"))
    assert materialization.run_id == runs[-1]
    assert materialization.asset_materialization.metadata["rows"].value == 3
    stock.dispose()


DAYS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=DAYS)
def daily_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"day": context.partition_key})


def test_the_index_tables_are_looked_up_once_and_the_event_tags_still_written(tmp_path, monkeypatch):
    """The stock log opens an engine to ask for the tags table before every asset event; the pooled one
    asks once. The tags it then writes are what the UI filters on (read back with the stock class)."""
    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    settings = Settings.from_env()
    asked: list[str] = []
    stock_has_table = PooledSqliteEventLogStorage.__mro__[1].has_table
    monkeypatch.setattr(
        PooledSqliteEventLogStorage.__mro__[1],
        "has_table",
        lambda self, name: asked.append(name) or stock_has_table(self, name),
    )
    instance = persistent_instance(settings)
    job = dg.Definitions(assets=[daily_asset]).resolve_implicit_global_asset_job_def()
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        assert job.execute_in_process(instance=instance, partition_key=day).success
    assert asked.count("asset_event_tags") == 1
    instance.event_log_storage.wipe()  # the tables are created again: asked again, then remembered
    assert job.execute_in_process(instance=instance, partition_key="2026-11-04").success
    assert job.execute_in_process(instance=instance, partition_key="2026-11-05").success
    assert asked.count("asset_event_tags") == 2
    instance.dispose()

    stock = dg.DagsterInstance.from_config(str(settings.dagster_home))
    records = stock.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_asset"), asset_partitions=["2026-11-04"]), limit=5
    ).records
    assert [r.asset_materialization.metadata["day"].value for r in records] == ["2026-11-04"]
    tags = stock.event_log_storage.get_event_tags_for_asset(dg.AssetKey("daily_asset"))
    assert len(tags) == 2 and all("dagster/data_version" in t for t in tags)  # the two days since the wipe
    stock.dispose()


def test_the_month_runs_once_up_to_the_alerts_then_a_week_at_a_time(monkeypatch):
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(10)]
    calls = []

    def fake_run_days(definitions, instance, run_days, report=None, chunk_days=7, bars=False, selection=None):
        calls.append((chunk_days, {k.to_user_string() for k in selection}))
        outcomes = [
            DayOutcome(d, True, 1.0, f"run-{len(calls)}", {f"asset{len(calls)}": {"n": 1}}) for d in run_days
        ]
        for index, outcome in enumerate(outcomes, 1):
            (report or (lambda *_: None))(index, len(outcomes), outcome)
        return outcomes

    printed = []
    monkeypatch.setattr(demo, "run_days", fake_run_days)
    monkeypatch.setattr(demo, "log_day", lambda i, n, o: printed.append(o))
    from pipelines.definitions import defs

    definitions = defs()
    outcomes = demo.run_month(definitions, None, days, bars=False)
    (first_chunk, data), (weekly_chunk, weekly) = calls
    everything = {
        k.to_user_string() for k in definitions.resolve_job_def("daily").asset_layer.selected_asset_keys
    }
    assert first_chunk == len(days) and weekly_chunk == 7
    assert not data & weekly and data | weekly == everything
    assert weekly == {"alert_events", "action_requests", "action_log", "daily_report", "user_statements"}
    assert [o.day for o in outcomes] == days == [o.day for o in printed]
    assert all(o.seconds == 2.0 and set(o.metadata) == {"asset1", "asset2"} for o in outcomes)
