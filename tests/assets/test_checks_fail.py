"""Checks that can fail (issue 14, defect 11): each check below is fed the wrong data it exists to catch
and must fail, naming what is wrong — a check that always passes tells the operator nothing."""

from __future__ import annotations

import importlib
import json
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from assets.raw import inventory_objects
from assets.reports.publish import REPORT_WRITTEN, publish
from bucketlens.formats import inventory_manifest as manifests
from bucketlens.reports.report import Report
from bucketlens.settings import Settings
from resources import build_resources
from resources.inventory_source import InventoryReports, StagedDay, VerifiedManifest
from resources.reports import ReportSettings
from tests.assets.raw_helpers import check_results, inventory_manifest
from tests.conftest import bucketlens_env
from tests.rows import insert_rows

inventory_module = importlib.import_module("assets.raw.inventory_objects")
quota = importlib.import_module("assets.cost.user_quota_use")
abuse = importlib.import_module("assets.anomaly.abuse_flags")
service = importlib.import_module("assets.anomaly.service_anomalies")
scores = importlib.import_module("assets.anomaly.user_anomaly_scores")
DAY = date(2026, 10, 5)


# --- inventory_objects: manifests_verified ------------------------------------------------------------


class UnverifiedReports(InventoryReports):
    """Reads the manifests and their files but skips the checksum and MD5 checks: data that bypassed
    verification, which ``manifests_verified`` must report instead of assuming."""

    def prepare(self, days: list[date]) -> dict[date, object]:
        listing = {o.key: o.size for o in self.source.list("inventory/")}
        out = {}
        for day in days:
            entries = []
            for key in manifests.inventory_manifest_keys(sorted(listing), day):
                manifest = manifests.parse_manifest(self.source.read_bytes(key), key)
                entries.append(
                    VerifiedManifest(manifest, {f.key: self.source.local_path(f.key) for f in manifest.files})
                )
            out[day] = entries
        return out


def test_manifests_verified_fails_for_a_listing_that_bypassed_verification(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=2)
    _, manifest = inventory_manifest(tiny_source.root, day)
    with bucketlens_env(tmp_path, tiny_source.root, tiny_source.users_db):
        resources = build_resources(Settings.from_env())
    verified = dg.materialize([inventory_objects], partition_key=str(day), resources=resources)
    check = check_results(verified)["inventory_objects:manifests_verified"]
    files = len(manifest["files"])
    assert (
        check.passed
        and check.metadata["files_verified"].value == files == check.metadata["files_in_manifests"].value
    )
    resources["inventory"] = UnverifiedReports(source=resources["source"])
    bypassed = dg.materialize(
        [inventory_objects], partition_key=str(day), resources=resources, raise_on_error=False
    )
    check = check_results(bypassed)["inventory_objects:manifests_verified"]
    assert not check.passed and check.blocking
    assert (
        check.description
        == f"0 of 1 manifest checksums and 0 of {files} data files were verified before loading"
    )


def test_manifests_verified_is_not_applicable_to_a_bucket_listing():
    check = inventory_module.manifests_verified(
        StagedDay(origin="ListObjectsV2 s3://r2-photos/", listing=True)
    )
    assert check.passed and check.metadata["origin"] == "listing"
    assert check.description.startswith("Not applicable: the listing comes from ListObjectsV2")
    assert not inventory_module.manifests_verified(
        StagedDay(origin="inventory/")
    ).passed  # no manifest at all


# --- user_quota_use -----------------------------------------------------------------------------------


def quota_warehouse(users: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for schema in ("raw", "usage", "cost"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(importlib.import_module("assets.raw.users").TABLE_DDL)
    con.execute(importlib.import_module("assets.usage.user_daily_storage").TABLE_DDL)
    con.execute(quota.TABLE_DDL)
    insert_rows(
        con,
        "INSERT INTO raw.users (snapshot_date, user_id, plan, quota_bytes) VALUES (?, ?, 'personal', 1000)",
        [(DAY, u) for u in users],
    )
    insert_rows(
        con,
        "INSERT INTO usage.user_daily_storage (usage_date, user_id, storage_class, bytes) VALUES (?, ?, ?, ?)",
        [(DAY, "1001", "STANDARD", 300), (DAY, "1001", "GLACIER", 100), (DAY, "1002", "STANDARD", 50),
         (DAY, "_shared", "STANDARD", 7)],
    )  # fmt: skip
    return con


def test_quota_checks_pass_on_one_row_per_user_and_fail_on_a_user_listed_twice():
    (good,) = (r.checks for r in quota.load_window(quota_warehouse(["1001", "1002"]), [DAY]))
    assert good["one_row_per_registered_user"].passed and good["stored_bytes_match_storage"].passed
    assert good["stored_bytes_match_storage"].metadata == {"quota_stored_bytes": 450, "storage_bytes": 450}

    # The users database returned 1001 twice (a join in BUCKETLENS_USERS_QUERY): 1001 counted twice.
    (bad,) = (r.checks for r in quota.load_window(quota_warehouse(["1001", "1001", "1002"]), [DAY]))
    assert not bad["one_row_per_registered_user"].passed
    assert (
        bad["one_row_per_registered_user"].description
        == "2026-10-05: 3 rows for 2 distinct ids, 2 registered users"
    )
    assert not bad["stored_bytes_match_storage"].passed
    assert bad["stored_bytes_match_storage"].description == "2026-10-05: 850 bytes here vs 450 in storage"


# --- the anomaly layer --------------------------------------------------------------------------------


def anomaly_table(ddl: str, rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA anomaly")
    con.execute(ddl)
    table = ddl.split("TABLE ")[1].split(" ")[0]
    insert_rows(con, f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return con


FLAGS_DDL = (
    "CREATE TABLE anomaly.abuse_flags (usage_date DATE, user_id VARCHAR, pattern VARCHAR, severity VARCHAR, "
    "value DOUBLE, threshold DOUBLE, evidence_table VARCHAR, evidence VARCHAR)"
)
EVIDENCE = json.dumps({"request_ids": ["R1"]})


def test_abuse_flags_check_fails_on_flags_nobody_can_follow():
    good = (DAY, "1001", "rapid_upload", "warning", 2e11, 1e11, "raw.access_log_requests", EVIDENCE)
    assert abuse.flags_are_explained(anomaly_table(FLAGS_DDL, [good]), [DAY])[DAY].passed
    rows = [
        good,
        (
            DAY,
            "1002",
            "large_object",
            "warning",
            5.0,
            10.0,
            "raw.inventory_objects",
            EVIDENCE,
        ),  # under its line
        (DAY, "1003", "sharing_abuse", "urgent", 40.0, 20.0, "raw.access_log_requests", EVIDENCE),
        (DAY, "1004", "duplicate_data", "info", 9e9, 1e9, "raw.inventory_objects", "{not json"),
        (DAY, "1001", "rapid_upload", "warning", 3e11, 1e11, "raw.access_log_requests", EVIDENCE),  # twice
    ]
    check = abuse.flags_are_explained(anomaly_table(FLAGS_DDL, rows), [DAY])[DAY]
    assert not check.passed
    assert check.description == (
        "2026-10-05: 1 flag(s) unknown severity, 1 flag(s) under threshold, 1 flag(s) without evidence, "
        "1 flag(s) repeated"
    )


SERVICE_DDL = (
    "CREATE TABLE anomaly.service_anomalies (usage_date DATE, bucket VARCHAR, metric VARCHAR, value DOUBLE, "
    "baseline DOUBLE, threshold DOUBLE, severity VARCHAR, reason VARCHAR, evidence VARCHAR)"
)


def test_service_anomalies_check_fails_on_a_row_under_its_line():
    growth = (DAY, "photos", "storage_growth", 3e12, 1e12, 1.1e12, "critical", "bucket grew by 3 TB", "{}")
    assert service.anomalies_over_their_line(anomaly_table(SERVICE_DDL, [growth]), [DAY])[DAY].passed
    zero = (
        DAY,
        "photos",
        "storage_total",
        0.0,
        None,
        5e13,
        "warning",
        "bucket stores 0 B",
        "{}",
    )  # a NoData day
    check = service.anomalies_over_their_line(anomaly_table(SERVICE_DDL, [growth, zero]), [DAY])[DAY]
    assert not check.passed and check.description == "2026-10-05: 1 row(s) not over threshold"


def test_a_floor_rule_passes_under_its_line_and_fails_over_it():
    """The CDN hit rate fires *below* 90 %: its row is past the line when under it."""
    drop = (DAY, "E2PHV7MEDIA0X1", "cdn_hit_ratio_drop", 0.60, 0.93, 0.90, "warning", "hit rate 60 %", "{}")
    assert service.anomalies_over_their_line(anomaly_table(SERVICE_DDL, [drop]), [DAY])[DAY].passed
    fine = (DAY, "E9OTHER", "cdn_hit_ratio_drop", 0.95, 0.93, 0.90, "warning", "hit rate 95 %", "{}")
    check = service.anomalies_over_their_line(anomaly_table(SERVICE_DDL, [drop, fine]), [DAY])[DAY]
    assert not check.passed and check.description == "2026-10-05: 1 row(s) not over threshold"


SCORES_DDL = (
    "CREATE TABLE anomaly.user_anomaly_scores (usage_date DATE, user_id VARCHAR, metric VARCHAR, value DOUBLE, "
    "baseline DOUBLE, score DOUBLE, is_anomaly BOOLEAN, reason VARCHAR)"
)


def test_anomaly_scores_check_fails_on_nan_scores_and_unexplained_anomalies():
    ok = (DAY, "1001", "stored_bytes", 10.0, 5.0, 2.5, False, None)
    assert scores.scores_well_formed(anomaly_table(SCORES_DDL, [ok]), [DAY])[DAY].passed
    rows = [
        ok,
        (DAY, "1002", "stored_bytes", float("nan"), 5.0, float("nan"), False, None),  # never alarms, silently
        (DAY, "1003", "get_requests", 900.0, 10.0, 40.0, True, ""),
        (DAY, "1001", "stored_bytes", 10.0, 5.0, 2.5, False, None),
    ]
    check = scores.scores_well_formed(anomaly_table(SCORES_DDL, rows), [DAY])[DAY]
    assert not check.passed
    assert check.description == (
        "2026-10-05: 1 score(s) repeated, 1 score(s) not finite, 1 score(s) unexplained"
    )


# --- reports: report_written --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<html><body><p>ok</p></body></html>", True),
        ('<html><body><img src="https://cdn.example/chart.png"></body></html>', False),  # loads from outside
        ("", False),  # nothing written
    ],
)
def test_report_written_fails_on_an_empty_page_or_an_outside_url(tmp_path, html, expected):
    settings = ReportSettings(reports_dir=str(tmp_path))
    report = Report("daily_report", DAY, html, {"x": 1}, "preview")
    result, _ = publish(report, settings, "http://127.0.0.1:3000/assets/daily_report")
    assert result.checks[REPORT_WRITTEN.name].passed is expected
