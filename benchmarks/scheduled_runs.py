"""What a scheduled day costs (issue 21): the same work through the command line and through the daemon.

Usage (after ``scripts/demo.sh``; the source is the demo month)::

    .venv/bin/python -m benchmarks.scheduled_runs .bucketlens/source /tmp/scheduled-runs

It measures, each on a fresh home over the same source:

* ``bucketlens run`` of three days as one range run, and of one day (wall time of the command);
* a UI backfill of the same three days (GraphQL ``launchPartitionBackfill`` on a running webserver and
  daemon, as the UI's *Materialize → partitions* sends it): launch to the run's end, and the run alone;
* a ``daily`` run of one day and a ``service_hourly`` run launched through the instance's run queue (the
  path schedules and sensors take: queued, dequeued by the daemon, started by the run launcher).

Automation is stopped on the measured instance first: on a first start the arrival sensor launches the
last days by itself, and those runs would queue in front of the measured ones on the single-writer pool.
Prints one JSON object (seconds).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
WORKSPACE = str(REPO / "workspace.yaml")
RANGE_DAYS = ["2026-11-28", "2026-11-29", "2026-11-30"]
ONE_DAY = "2026-12-01"
HOURLY_DAY = "2026-12-02"
TRIALS = 3
AUTOMATION = {
    "sensor": [
        "inventory_arrival_sensor",
        "source_freshness_sensor",
        "cost_export_sensor",
        "alert_delivery_sensor",
        "action_delivery_sensor",
        "run_failure_alert_sensor",
    ],
    "schedule": ["daily_schedule", "service_hourly_schedule"],
}
BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


def environment(source: str, home: Path) -> dict[str, str]:
    """This process's environment without any bucketlens or Dagster setting, pointed at ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_") and k != "DAGSTER_HOME"}
    env |= {"BUCKETLENS_HOME": str(home), "BUCKETLENS_SOURCE": source, "DAGSTER_HOME": str(home / "dagster")}
    return env


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=REPO, check=True, capture_output=True)
    return round(time.perf_counter() - started, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """A webserver and a daemon on one fresh instance, automation stopped."""

    def __init__(self, env: dict[str, str]):
        self.env, self.port = env, free_port()
        home = Path(env["DAGSTER_HOME"])
        home.mkdir(parents=True)
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        for kind, names in AUTOMATION.items():
            for name in names:
                subprocess.run([str(BIN / "dagster"), kind, "stop", name, "-w", WORKSPACE],
                               cwd=REPO, env=env, capture_output=True)  # fmt: skip
        quiet = {"cwd": REPO, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.processes = [
            subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", WORKSPACE], **quiet),
            subprocess.Popen(
                [str(BIN / "dagster-webserver"), "-w", WORKSPACE, "-p", str(self.port)], **quiet
            ),
        ]
        os.environ.update(env)
        import dagster as dg

        self.dg, self.instance = dg, dg.DagsterInstance.get()
        for _ in range(180):
            try:
                self.graphql("{ version }")
                return
            except OSError:
                time.sleep(1)
        raise SystemExit("the webserver did not answer in 180 s")

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    def finished_runs(self, filters, timeout: float = 900) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.instance.get_run_records(filters=filters)
            if records and all(r.dagster_run.is_finished for r in records):
                return records
            time.sleep(0.5)
        raise SystemExit("a measured run did not finish in time")

    def backfill(self, days: list[str]) -> dict:
        nodes = self.graphql("{ assetNodes { assetKey { path } } }")["data"]["assetNodes"]
        selection = [{"path": n["assetKey"]["path"]} for n in nodes]
        started = time.perf_counter()
        answer = self.graphql(BACKFILL, {"p": {"assetSelection": selection, "partitionNames": days}})
        backfill_id = answer["data"]["launchPartitionBackfill"]["backfillId"]
        records = self.finished_runs(self.dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
        return self._figures(records, started)

    def launch(self, job: str, day: str) -> dict:
        """``dagster job launch``: the run is queued on the instance and the daemon dequeues it."""
        tags = json.dumps({"dagster/partition": day, "bucketlens/trigger": "measure"})
        started = time.perf_counter()
        subprocess.run([str(BIN / "dagster"), "job", "launch", "-w", WORKSPACE, "-j", job, "--tags", tags],
                       cwd=REPO, env=self.env, check=True, capture_output=True)  # fmt: skip
        records = self.finished_runs(self.dg.RunsFilter(job_name=job, tags={"dagster/partition": day}))
        return self._figures(records, started)

    @staticmethod
    def _figures(records: list, started: float) -> dict:
        """Launch to the last run's end; queued to end (what a sensor's or schedule's run costs: the
        daemon submits it, so no command loads the code location first); the runs' own execution."""
        ended = time.perf_counter()
        return {
            "launch_to_end_s": round(ended - started, 1),
            "queued_to_end_s": [round(r.end_time - r.create_timestamp.timestamp(), 1) for r in records],
            "run_s": [round(r.end_time - r.start_time, 1) for r in records],
            "status": sorted({r.dagster_run.status.value for r in records}),
        }

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=60)


def measure(source: str, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cli = [str(BIN / "bucketlens"), "run", "--start"]
    figures: dict = {
        "cli_range_3d_s": timed(
            [*cli, RANGE_DAYS[0], "--end", RANGE_DAYS[-1]], environment(source, work / "cli3")
        ),
        "cli_day_s": timed([*cli, ONE_DAY], environment(source, work / "cli1")),
    }
    daemon = Daemon(environment(source, work / "ui"))
    try:
        # Trials, since a backfill waits for the daemon's next backfill iteration (every 30 s in Dagster).
        figures["ui_backfill_3d"] = [daemon.backfill(RANGE_DAYS) for _ in range(TRIALS)]
        figures["daemon_daily_day"] = daemon.launch("daily", ONE_DAY)
        figures["daemon_service_hourly"] = daemon.launch("service_hourly", HOURLY_DAY)
    finally:
        daemon.stop()
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m benchmarks.scheduled_runs SOURCE WORKDIR")
    print(json.dumps(measure(argv[0], Path(argv[1])), indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
