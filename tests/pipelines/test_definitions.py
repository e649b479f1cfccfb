"""The definitions load cleanly and describe the design's raw layer."""

import warnings

import dagster as dg

from assets.partitions import PARTITIONS_START
from tests.pipelines.raw_layer import RAW


def load(monkeypatch, tmp_path):
    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    from pipelines.definitions import defs

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        return defs()


def test_definitions_load_without_deprecations(monkeypatch, tmp_path):
    d = load(monkeypatch, tmp_path)
    graph = d.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys >= RAW
    for name in RAW:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "raw"
        assert node.partitions_def.get_first_partition_key() == PARTITIONS_START
        assert node.pools == {"duckdb_writer"}, name
        assert graph.get_check_keys_for_assets({dg.AssetKey(name)}), f"{name} has no asset checks"
    assert d.resolve_job_def("raw_daily").partitions_def is not None
    # every job, schedule and sensor resolves (what `dagster definitions validate` and the UI do)
    repo = d.get_repository_def()
    jobs = {j.name for j in repo.get_all_jobs()}
    assert {"daily", "raw_daily", "derived_daily", "service_hourly", "cost_restatement"} <= jobs
    # asset jobs are daily-partitioned; the approval jobs decide one request (config), not a day
    approvals = {"actions_approve", "actions_reject"}
    assert approvals <= jobs and all(repo.get_job(j).partitions_def is None for j in approvals)
    assert all(repo.get_job(j).partitions_def is not None for j in jobs - approvals if not j.startswith("__"))
    assert {s.name for s in repo.schedule_defs} == {"daily_schedule", "service_hourly_schedule"}
    # Every asset a dependency names exists (no non-executable stubs).
    stubs = {n.key.to_user_string() for n in graph.asset_nodes if not n.is_executable}
    assert not stubs, stubs
    for node in graph.asset_nodes:
        if node.is_executable:
            assert node.backfill_policy == dg.BackfillPolicy.single_run(), (
                node.key
            )  # a UI backfill is one run


def test_resources_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BUCKETLENS_SOURCE", "s3://exports/root")
    d = load(monkeypatch, tmp_path)
    resources = d.resources
    assert resources["source"].url == "s3://exports/root"
    assert resources["warehouse"].database == str(tmp_path / "warehouse.duckdb")
