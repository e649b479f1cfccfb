"""Schedules and sensors produce the right run requests; a new cost export reruns exactly the days
already materialized of its billing period, and the rerun swaps the estimate for the bill."""

import json
import shutil
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from assets.cost import COST_ASSETS
from assets.jobs import cost_restatement_job, daily_job
from assets.raw import RAW_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.settings import Settings
from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
from pipelines.schedules import daily_schedule, service_hourly_schedule
from resources import build_resources
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from sensors.cost_exports import cost_export_sensor, period_days
from sensors.inventory_arrival import complete_days, inventory_arrival_sensor
from tests.assets.raw_helpers import query
from tests.conftest import bucketlens_env


def _source(root, tmp_path) -> SourceStore:
    return SourceStore(url=str(root), cache_dir=str(tmp_path / "cache"))


@dg.op
def _noop() -> None:
    pass


def _stand_in_daily_job() -> dg.JobDefinition:
    """A run recorded under the daily job's name, as the inventory sensor's launch would leave."""

    @dg.job(name=daily_job.name)
    def stand_in():
        _noop()

    return stand_in


def test_the_daily_schedule_runs_yesterday_once_its_inventory_is_there(tiny_source, tmp_path):
    source = _source(tiny_source.root, tmp_path)
    day = tiny_source.start + timedelta(days=4)
    at = datetime(day.year, day.month, day.day, 13, tzinfo=UTC) + timedelta(days=1)
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, resources={"source": source}
        ) as ctx:
            request = daily_schedule(ctx)
        assert isinstance(request, dg.RunRequest)
        assert request.partition_key == day.isoformat() and request.run_key == f"daily:{day}"
        # once a run of the day exists (launched by the inventory sensor), the schedule skips it
        _stand_in_daily_job().execute_in_process(
            instance=instance, tags={"dagster/partition": day.isoformat()}
        )
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, resources={"source": source}
        ) as ctx:
            assert isinstance(daily_schedule(ctx), dg.SkipReason)
        # a day whose inventory never arrived is skipped with the reason
        late = at + timedelta(days=30)
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=late, resources={"source": source}
        ) as ctx:
            skip = daily_schedule(ctx)
        assert isinstance(skip, dg.SkipReason) and "No S3 Inventory manifest" in skip.skip_message


def test_the_hourly_schedule_targets_today():
    at = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
    request = service_hourly_schedule(dg.build_schedule_context(scheduled_execution_time=at))
    assert request.partition_key == "2026-11-03" and request.run_key == "service_hourly:2026-11-03T14"


def test_a_day_is_complete_after_its_log_lateness():
    days = [datetime(2026, 11, d).date() for d in (20, 21, 22, 23, 24)]
    now = datetime(2026, 11, 24, 11, 59, tzinfo=UTC)  # 23rd not complete before 24th 12:00
    assert complete_days(days, now, 12, after=days[0]) == days[1:3]
    assert complete_days(days, now + timedelta(minutes=1), 12, after=days[0]) == days[1:4]
    assert complete_days(days, now, 12, after=None) == days[1:3]  # first start: last 3 days only


def test_the_inventory_sensor_requests_each_new_day_once(tiny_source, tmp_path):
    source = _source(tiny_source.root, tmp_path)
    resources = {"source": source, "service": ServiceLayout()}
    cursor = (tiny_source.start + timedelta(days=6)).isoformat()
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = inventory_arrival_sensor(ctx)
        expected = [(tiny_source.start + timedelta(days=d)).isoformat() for d in (7, 8, 9)]
        assert [r.partition_key for r in result.run_requests] == expected
        assert result.cursor == expected[-1]
        ctx = dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=resources)
        assert isinstance(inventory_arrival_sensor(ctx), dg.SkipReason)


def test_period_days_are_the_materialized_days_before_today():
    materialized = {"2026-10-02", "2026-10-03", "2026-10-31", "2026-11-01"}
    got = period_days("2026-10", materialized, today=datetime(2026, 10, 31).date())
    assert [d.isoformat() for d in got] == ["2026-10-02", "2026-10-03"]


@pytest.fixture
def source_copy(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    return root


def test_a_new_cost_export_reruns_the_materialized_days_and_replaces_the_estimate(
    tiny_source, source_copy, tmp_path
):
    hidden = tmp_path / "cur-not-yet"
    shutil.move(source_copy / "cur", hidden)
    days = [tiny_source.start + timedelta(days=d) for d in (3, 4, 5)]
    home = tmp_path / "home"
    source = _source(source_copy, tmp_path)
    with (
        dg.instance_for_test() as instance,
        bucketlens_env(home, source_copy, f"sqlite:///{source_copy / 'users.sqlite'}"),
    ):
        defs = dg.Definitions(
            assets=[*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS],
            jobs=[cost_restatement_job],
            resources=build_resources(Settings.from_env()),
        )
        tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
        first = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            tags=tags, instance=instance, run_config=QUIET_CONSOLE
        )
        assert first.success
        assert query(home, "SELECT bool_and(is_estimate) FROM cost.user_daily_cost")[0][0] is True

        tick = cost_export_sensor(dg.build_sensor_context(instance=instance, resources={"source": source}))
        assert not tick.run_requests and json.loads(tick.cursor) == {}  # nothing exported yet
        shutil.move(hidden, source_copy / "cur")
        tick = cost_export_sensor(
            dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources={"source": source})
        )
        (request,) = tick.run_requests
        assert request.tags[RANGE_START_TAG] == days[0].isoformat()
        assert request.tags[RANGE_END_TAG] == days[-1].isoformat()
        assert request.tags["bucketlens/billing_period"] == days[0].strftime("%Y-%m")
        assert request.tags["bucketlens/trigger"] == "cost_export_new"

        rerun = defs.resolve_job_def(cost_restatement_job.name).execute_in_process(
            tags=request.tags, instance=instance, run_config=QUIET_CONSOLE
        )
        assert rerun.success
        rebuilt = {e.asset_key.to_user_string() for e in rerun.get_asset_materialization_events()}
        assert {"cost_line_items", "user_daily_cost", "plan_daily_margin"} <= rebuilt
        assert "inventory_objects" not in rebuilt and "user_daily_storage" not in rebuilt
        billed, allocated, estimates = query(
            home,
            "SELECT (SELECT sum(unblended_cost) FROM raw.cost_line_items WHERE usage_start::DATE BETWEEN ? AND ?),"
            " sum(amount_usd), count(*) FILTER (WHERE is_estimate) FROM cost.user_daily_cost",
            [days[0], days[-1]],
        )[0]
        assert estimates == 0 and allocated == billed

        # the same export seen again: no second rerun
        again = cost_export_sensor(
            dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources={"source": source})
        )
        assert not again.run_requests
