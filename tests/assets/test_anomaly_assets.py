"""The anomaly and alert layers as Dagster assets on generated data: every injected anomaly is flagged on
the day its source shows it and alerts, quiet days stay quiet, each flag leads to its evidence rows in the
warehouse, the preview shows the alerts as Slack would, and a rerun replaces a day without re-notifying.
"""

import json
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from assets.alerts import ALERT_ASSETS
from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.anomaly.evaluation import alert_subject, labels_without_alert, load_labels
from bucketlens.settings import Settings
from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
from resources import build_resources
from tests.assets.raw_helpers import query
from tests.conftest import bucketlens_env

ALL = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS, *ALERT_ASSETS]


@pytest.fixture(scope="module")
def month(tiny_source, tmp_path_factory):
    """The tiny source's 10 days through every layer in one range run (as a backfill does)."""
    home = tmp_path_factory.mktemp("anomaly-home")
    days = [tiny_source.start + timedelta(days=i) for i in range(tiny_source.days)]
    with bucketlens_env(home, tiny_source.root, tiny_source.users_db):
        defs = dg.Definitions(assets=ALL, resources=build_resources(Settings.from_env()))
        job = defs.resolve_implicit_global_asset_job_def()
        tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
        result = job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE, raise_on_error=False)
    assert result.success
    return home, days, result


def _materialization(result, key: str):
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key][
        :1
    ]
    return event.materialization.metadata


def test_every_injected_user_anomaly_is_flagged_on_its_visible_day(month, tiny_source):
    home, days, _ = month
    labels = [lab for lab in load_labels(tiny_source.root / "labels.jsonl", days) if lab["user_id"]]
    assert len(labels) >= 8  # one of each user pattern (rapid uploads are also labelled as daily volume)
    flags = set(query(home, "SELECT pattern, user_id, usage_date FROM anomaly.abuse_flags"))
    service = {
        r[0]
        for r in query(home, "SELECT usage_date FROM anomaly.service_anomalies WHERE metric = 'cost_spike'")
    }
    for lab in labels:
        if lab["pattern"] == "cost_spike":
            assert lab["visible"] in service, lab
        else:
            assert (lab["pattern"], lab["user_id"], lab["visible"]) in flags, lab


def test_each_flag_leads_to_its_evidence_rows(month):
    home, _, _ = month
    rows = query(
        home, "SELECT pattern, user_id, usage_date, evidence_table, evidence FROM anomaly.abuse_flags"
    )
    checked = 0
    for pattern, user, day, table, evidence in rows:
        ev = json.loads(evidence)
        assert table in {
            "raw.access_log_requests",
            "raw.inventory_objects",
            "usage.user_daily_storage",
            "cost.user_quota_use",
            "cost.user_daily_cost",
            "usage.user_daily_cdn",
        }, (pattern, table)
        if table == "usage.user_daily_cdn":  # hotlinking: the day's CDN rows of the user hold its figures
            found = query(
                home,
                "SELECT sum(requests), max(user_referer_hosts) FROM usage.user_daily_cdn "
                "WHERE usage_date = ? AND user_id = ?",
                [day, user],
            )[0]
            assert found == (ev["requests"], ev["distinct_referer_hosts"]) and found[0] > 0, (pattern, user)
            checked += 1
        if table == "raw.access_log_requests" and "request_ids" in ev:
            ids = ev["request_ids"]
            found = query(
                home,
                "SELECT count(*) FROM raw.access_log_requests WHERE user_id = ? AND list_contains(?, request_id)",
                [user, ids],
            )[0][0]
            assert found == len(ids) > 0, (pattern, user)
            checked += 1
        if table == "raw.inventory_objects":
            keys = [o["key"] for k in ("objects_list", "copies_list") if k in ev for o in ev[k]]
            found = query(
                home,
                "SELECT count(DISTINCT key) FROM raw.inventory_objects WHERE snapshot_date = ? AND user_id = ? AND list_contains(?, key)",
                [day, user, keys],
            )[0][0]
            assert found == len(set(keys)) > 0, (pattern, user)
            checked += 1
    assert checked >= 4


def test_scores_explain_themselves_and_the_metadata_names_the_evidence_query(month):
    home, days, result = month
    per_user_day = query(
        home,
        "SELECT count(*), count(DISTINCT (user_id, usage_date, metric)) FROM anomaly.user_anomaly_scores",
    )[0]
    assert per_user_day[0] == per_user_day[1] > 0  # one row per user, day and metric
    reasons = query(
        home,
        "SELECT count(*) FROM anomaly.user_anomaly_scores WHERE is_anomaly AND coalesce(reason, '') = ''",
    )[0][0]
    assert reasons == 0
    metadata = _materialization(result, "abuse_flags")
    assert "per_day" in metadata and "days" in metadata
    flagged_days = query(home, "SELECT count(DISTINCT usage_date) FROM anomaly.abuse_flags")[0][0]
    per_day = metadata["per_day"].value
    assert (
        sum(v.get("flags", 0) for v in per_day.values())
        == query(home, "SELECT count(*) FROM anomaly.abuse_flags")[0][0]
    )
    assert flagged_days >= 2


def test_a_rerun_of_one_day_replaces_it(month, tiny_source):
    home, days, _ = month
    day = days[-2]
    before = query(
        home,
        "SELECT pattern, user_id, value FROM anomaly.abuse_flags WHERE usage_date = ? ORDER BY ALL",
        [day],
    )
    total = query(home, "SELECT count(*) FROM anomaly.abuse_flags")[0][0]
    with bucketlens_env(home, tiny_source.root, tiny_source.users_db):
        result = dg.materialize(
            ANOMALY_ASSETS,
            partition_key=day.isoformat(),
            resources=build_resources(Settings.from_env()),
            selection=["abuse_flags"],
        )
    assert result.success
    metadata = _materialization(result, "abuse_flags")
    assert metadata["flags"].value == len(before)
    assert "evidence_query" in metadata and str(day) in metadata["evidence_query"].value
    after = query(
        home,
        "SELECT pattern, user_id, value FROM anomaly.abuse_flags WHERE usage_date = ? ORDER BY ALL",
        [day],
    )
    assert after == before and query(home, "SELECT count(*) FROM anomaly.abuse_flags")[0][0] == total


def test_every_injected_anomaly_alerts_and_quiet_days_stay_quiet(month, tiny_source):
    home, days, _ = month
    labels = [lab for lab in load_labels(tiny_source.root / "labels.jsonl", days)]
    firing = query(
        home,
        "SELECT rule, subject, usage_date, severity FROM alerts.alert_events WHERE state = 'firing'",
    )
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert labels_without_alert(con, labels) == []
    for lab in labels:  # the same, spelled out: the rule named after the pattern, on the visible day
        subject = alert_subject(lab)
        assert any(r == lab["pattern"] and s == subject and d == lab["visible"] for r, s, d, _ in firing), lab
    first_label = min(lab["visible"] for lab in labels)
    loud_before = [f for f in firing if f[2] < first_label and f[3] != "info"]
    assert loud_before == []  # warning/critical alerts only where something was injected


def test_the_demo_summary_counts_the_alerted_labels_and_quiet_days(month, tiny_source):
    from pipelines.demo import _alert_figures

    home, days, _ = month
    labels = load_labels(tiny_source.root / "labels.jsonl", days)
    with bucketlens_env(home, tiny_source.root, tiny_source.users_db):
        alerts, flags, alerted = _alert_figures(Settings.from_env(), tiny_source.root, days)
    assert alerted.endswith(f"alerted on the day they show: {len(labels)} of {len(labels)}") and labels
    loud = query(
        home,
        "SELECT count(DISTINCT usage_date) FROM alerts.alert_events "
        "WHERE state = 'firing' AND first_seen = usage_date AND severity <> 'info'",
    )[0][0]
    assert f"{len(days) - loud} day(s) raised no warning or critical" in alerts
    assert flags.startswith("  abuse flags") and "rapid_upload" in flags


def test_the_preview_shows_each_alert_as_slack_would(month, tiny_source):
    from sensors.alert_delivery import deliver_tick

    home, days, _ = month
    with bucketlens_env(home, tiny_source.root, tiny_source.users_db):
        r = build_resources(Settings.from_env())
        report = deliver_tick(r["outbox"], r["slack"], r["rules"])
        again = deliver_tick(r["outbox"], r["slack"], r["rules"])
    assert report.delivery.sent > 0 and report.delivery.dead == 0
    assert again.delivery.sent == 0  # nothing is sent twice
    payloads = [json.loads(line) for line in (home / "slack-preview.jsonl").read_text().splitlines()]
    assert len([p for p in payloads if p["method"] == "chat.postMessage"]) == report.delivery.sent
    texts = " ".join(p["args"].get("text", "") for p in payloads)
    labels = [lab for lab in load_labels(tiny_source.root / "labels.jsonl", days) if lab["user_id"]]
    for lab in labels:
        if lab["pattern"] != "cost_spike" and lab["visible"] >= days[-1] - timedelta(days=13):
            assert f"user {lab['user_id']}" in texts, lab
    assert "<!channel>" not in texts and "<!here>" not in texts
