"""A day launched the way schedules and sensors launch it — submitted to the instance, dequeued by the
Dagster daemon, executed by the run launcher in its own process — costs about what the command line
pays (issue 21). Before the code location set the in-process executor, each of the ~20 steps started a
fresh Python process: a 200-user day took 238 s that way against 9 s in `bucketlens run`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg

from assets.jobs import DAILY_JOB
from pipelines.runner import run_range
from tests.conftest import bucketlens_env

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
WORKSPACE = str(REPO / "workspace.yaml")
RUN_TIMEOUT_S = 240


def _wait_for_run(instance: dg.DagsterInstance, run_id: str) -> dg.RunRecord:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        record = instance.get_run_record_by_id(run_id)
        if record is not None and record.dagster_run.is_finished:
            return record
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish within {RUN_TIMEOUT_S} s")


def test_a_daemon_launched_day_costs_what_the_cli_pays(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=4)
    cli_home, daemon_home = tmp_path / "cli", tmp_path / "daemon"

    with bucketlens_env(cli_home, tiny_source.root, tiny_source.users_db), dg.instance_for_test() as instance:
        from pipelines.definitions import defs

        started = time.perf_counter()
        (outcome,) = run_range(defs(), instance, [day])
        in_process_s = time.perf_counter() - started
    assert outcome.success, outcome.errors

    dagster_home = daemon_home / "dagster"
    dagster_home.mkdir(parents=True)
    shutil.copyfile(
        REPO / "dagster.yaml", dagster_home / "dagster.yaml"
    )  # the queued coordinator, as deployed
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_")},
        "BUCKETLENS_HOME": str(daemon_home),
        "BUCKETLENS_SOURCE": str(tiny_source.root),
        "BUCKETLENS_USERS_DB": tiny_source.users_db,
        "DAGSTER_HOME": str(dagster_home),
    }
    with bucketlens_env(daemon_home, tiny_source.root, tiny_source.users_db, DAGSTER_HOME=str(dagster_home)):
        instance = dg.DagsterInstance.get()  # creates the storage before two processes race to
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            launched = subprocess.run(
                [str(BIN / "dagster"), "job", "launch", "-w", WORKSPACE, "-j", DAILY_JOB,
                 "--tags", json.dumps({"dagster/partition": day.isoformat(), "bucketlens/trigger": "test"})],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
            )  # fmt: skip
            assert launched.returncode == 0, launched.stderr[-2000:]
            (submitted,) = instance.get_run_records(filters=dg.RunsFilter(job_name=DAILY_JOB))
            record = _wait_for_run(instance, submitted.dagster_run.run_id)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        events = instance.all_logs(record.dagster_run.run_id)
        step_processes = [
            e
            for e in events
            if e.dagster_event and e.dagster_event.event_type_value == "STEP_WORKER_STARTING"
        ]
        materialized = {
            e.dagster_event.asset_key.to_user_string()
            for e in events
            if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
        }
        instance.dispose()

    assert step_processes == []  # one process for the whole run: the in-process executor
    assert {"inventory_objects", "user_daily_cost", "alert_events", "daily_report"} <= materialized
    run_s = record.end_time - record.start_time
    print(f"daemon-launched run {run_s:.1f} s (as the UI shows it) vs in-process {in_process_s:.1f} s")
    assert run_s <= 2 * in_process_s
