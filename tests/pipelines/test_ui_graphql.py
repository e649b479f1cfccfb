"""The Dagster UI, started from the repository's workspace.yaml, shows the raw group materialized."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import bucketlens_env
from tests.pipelines.raw_layer import RAW

REPO = Path(__file__).resolve().parents[2]

ASSETS_QUERY = """
{ assetNodes {
    assetKey { path } groupName isPartitioned
    partitionStats { numMaterialized numPartitions numFailed }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
} }"""
RUNS_QUERY = """
{ runsOrError { ... on Runs { results { runId status jobName tags { key value } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
def webserver(tiny_source, tmp_path_factory):
    from bucketlens.settings import Settings
    from pipelines.definitions import defs
    from pipelines.instance import persistent_instance
    from pipelines.runner import run_days

    home = tmp_path_factory.mktemp("ui-home")
    days = [tiny_source.start + timedelta(days=7), tiny_source.start + timedelta(days=8)]
    with bucketlens_env(home, tiny_source.root, tiny_source.users_db):
        settings = Settings.from_env()
        outcomes = run_days(defs(), persistent_instance(settings), days, report=lambda *_: None)
        assert all(o.success for o in outcomes), [o.errors for o in outcomes]
        env = {**os.environ, "DAGSTER_HOME": str(settings.dagster_home)}
    port = _free_port()
    tool = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(tool), "-w", str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while True:
        try:
            _graphql(port, "{ version }")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"webserver did not come up: {process.stderr.read()[-2000:]}")
            time.sleep(1)
    yield port, days
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.ui
def test_raw_group_lists_every_asset_with_materialized_partitions_and_checks(webserver):
    port, days = webserver
    nodes = _graphql(port, ASSETS_QUERY)["assetNodes"]
    by_name = {n["assetKey"]["path"][-1]: n for n in nodes if n["groupName"] == "raw"}
    assert set(by_name) == RAW
    for name, node in by_name.items():
        assert node["groupName"] == "raw" and node["isPartitioned"]
        assert node["partitionStats"]["numMaterialized"] == len(days), name
        assert node["partitionStats"]["numFailed"] == 0, name
        assert node["assetChecksOrError"]["checks"], f"{name} shows no checks"


@pytest.mark.ui
def test_cli_runs_show_in_the_ui(webserver):
    port, days = webserver
    runs = _graphql(port, RUNS_QUERY)["runsOrError"]["results"]
    # Consecutive days run as one backfill run over their range.
    assert [r["status"] for r in runs] == ["SUCCESS"]
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        days[0].isoformat(),
        days[-1].isoformat(),
    )
    assert runs[0]["jobName"] == "daily"


AUTOMATION_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name cronSchedule scheduleState { status } }
    sensors { name sensorState { status } }
} } } }"""


@pytest.mark.ui
def test_schedules_and_sensors_are_listed_and_running_by_default(webserver):
    port, _ = webserver
    (repo,) = _graphql(port, AUTOMATION_QUERY)["repositoriesOrError"]["nodes"]
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert schedules["daily_schedule"]["cronSchedule"] == "0 13 * * *"
    assert {s["scheduleState"]["status"] for s in schedules.values()} == {"RUNNING"}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]}
    assert {"inventory_arrival_sensor", "cost_export_sensor"} <= set(sensors)
    assert set(sensors.values()) == {"RUNNING"}, sensors


@pytest.mark.ui
def test_the_asset_graph_has_every_layer_as_a_group(webserver):
    port, _ = webserver
    groups = {n["groupName"] for n in _graphql(port, ASSETS_QUERY)["assetNodes"]}
    assert {"raw", "usage", "cost", "anomaly"} <= groups
