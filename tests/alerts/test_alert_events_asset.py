"""The alert_events asset materialized in-process on a small hand-made warehouse: the expected alert
rows per day, notifications in the outbox, and a rerun that changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from assets.alerts import ALERT_ASSETS
from bucketlens.alerts.outbox import Outbox
from resources.alert_settings import AlertSettings
from resources.outbox import AlertOutbox
from resources.rules import RulesFile
from resources.warehouse import Warehouse

TODAY = datetime.now(UTC).date()
DAY1, DAY2 = TODAY - timedelta(days=3), TODAY - timedelta(days=2)  # recent: no digest
GIB = 1024**3
SCHEMA = """
CREATE SCHEMA anomaly; CREATE SCHEMA usage;
CREATE TABLE anomaly.abuse_flags (usage_date DATE, user_id VARCHAR, pattern VARCHAR, severity VARCHAR,
    value DOUBLE, threshold DOUBLE, evidence_table VARCHAR, evidence VARCHAR);
CREATE TABLE anomaly.service_anomalies (usage_date DATE, bucket VARCHAR, metric VARCHAR, value DOUBLE,
    baseline DOUBLE, threshold DOUBLE, severity VARCHAR, reason VARCHAR, evidence VARCHAR);
CREATE TABLE usage.user_daily_storage (usage_date DATE, user_id VARCHAR, bytes BIGINT);
CREATE TABLE usage.service_daily_metrics (usage_date DATE, bucket VARCHAR, avg_latency_ms DOUBLE);
"""


@pytest.fixture
def home(tmp_path):
    """Day 1: a critical rapid upload by u1 and a slow bucket; day 2: the bucket is still slow."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(SCHEMA)
    for day in (DAY1, DAY2):
        con.execute("INSERT INTO usage.user_daily_storage VALUES (?, 'u1', 1), (?, 'u2', 1)", [day, day])
        con.execute("INSERT INTO usage.service_daily_metrics VALUES (?, 'photos', 2500)", [day])
        con.execute(
            "INSERT INTO anomaly.service_anomalies VALUES (?, 'photos', 'latency', 2500, NULL, 2000, 'warning', "
            "'average request latency 2,500 ms (threshold 2,000 ms)', '{}')",
            [day],
        )
    con.execute(
        "INSERT INTO anomaly.abuse_flags VALUES (?, 'u1', 'rapid_upload', 'critical', ?, ?, "
        "'raw.access_log_requests', ?)",
        [DAY1, 150 * GIB, 100 * GIB, json.dumps({"top_request_ids": ["R1"]})],
    )
    con.close()
    return tmp_path


def materialize(home, day):
    resources = {
        "warehouse": Warehouse(database=str(home / "warehouse.duckdb")),
        "rules": RulesFile(),
        "outbox": AlertOutbox(url=f"sqlite:///{home / 'outbox.sqlite'}"),
        "alert_settings": AlertSettings(ui_url="http://ui.test"),
    }
    result = dg.materialize(ALERT_ASSETS, partition_key=day.isoformat(), resources=resources)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def events(home):
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        "SELECT usage_date, rule, subject, severity, state, first_seen, last_seen, value, threshold "
        "FROM alerts.alert_events ORDER BY usage_date, rule"
    ).fetchall()
    con.close()
    return rows


def test_two_days_give_firing_then_resolved_rows_and_their_notifications(home):
    first = materialize(home, DAY1)
    assert (first["firing"], first["new"], first["resolved"], first["notifications_enqueued"]) == (2, 2, 0, 2)
    assert "| critical | rapid_upload | user u1 | uploaded 150.0 GiB" in first["firing_alerts"]
    second = materialize(home, DAY2)
    assert (second["firing"], second["new"], second["resolved"], second["notifications_enqueued"]) == (
        1,
        0,
        1,
        1,
    )
    assert events(home) == [
        (DAY1, "latency", "bucket photos", "warning", "firing", DAY1, DAY1, 2500.0, 2000.0),
        (DAY1, "rapid_upload", "user u1", "critical", "firing", DAY1, DAY1, 150.0 * GIB, 100.0 * GIB),
        (DAY2, "latency", "bucket photos", "warning", "firing", DAY1, DAY2, 2500.0, 2000.0),
        (DAY2, "rapid_upload", "user u1", "critical", "resolved", DAY1, DAY1, 150.0 * GIB, 100.0 * GIB),
    ]
    box = Outbox(f"sqlite:///{home / 'outbox.sqlite'}")
    pending = [r.notification for r in box.due(datetime.now(UTC) + timedelta(minutes=1))]
    box.dispose()
    by_kind = {(n.kind, n.alerts[0].rule): n for n in pending}
    assert sorted(by_kind) == [("alert", "latency"), ("alert", "rapid_upload"), ("resolved", "rapid_upload")]
    fired = by_kind[("alert", "rapid_upload")]
    assert (fired.channel, fired.alerts[0].reason) == (
        "#storage-critical",
        "uploaded 150.0 GiB within one hour (threshold 100.0 GiB)",
    )
    assert fired.alerts[0].link == f"http://ui.test/assets/abuse_flags?partition={DAY1}"
    assert by_kind[("resolved", "rapid_upload")].edit_of == fired.identity


def test_a_rerun_replaces_the_partition_and_enqueues_nothing_new(home):
    materialize(home, DAY1)
    again = materialize(home, DAY1)
    assert again["notifications_enqueued"] == 0 and again["dagster/row_count"] == 2
    assert len(events(home)) == 2
