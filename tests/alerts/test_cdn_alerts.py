"""The packaged CDN alert rules (issue 20) turn the CDN detectors' rows into alerts with the subjects the
generator's labels map to (``alert_subject``), and their Slack text is escaped like every alert's."""

from __future__ import annotations

import json
from datetime import date

import duckdb

from assets.usage.service_daily_cdn import TABLE_DDL as SERVICE_CDN_DDL
from assets.usage.user_daily_cdn import TABLE_DDL as USER_CDN_DDL
from bucketlens.alerts.rules import load_alerting
from bucketlens.alerts.state import TABLE, evaluate_day, read_alerts
from bucketlens.anomaly.evaluation import alert_subject
from bucketlens.anomaly.rules import load_rules
from resources.warehouse import Replacement, replace_partitions

DAY = date(2026, 10, 12)
SCHEMA = """
CREATE SCHEMA anomaly; CREATE SCHEMA usage;
CREATE TABLE anomaly.abuse_flags (usage_date DATE, user_id VARCHAR, pattern VARCHAR, severity VARCHAR,
    value DOUBLE, threshold DOUBLE, evidence_table VARCHAR, evidence VARCHAR);
CREATE TABLE anomaly.service_anomalies (usage_date DATE, bucket VARCHAR, metric VARCHAR, value DOUBLE,
    baseline DOUBLE, threshold DOUBLE, severity VARCHAR, reason VARCHAR, evidence VARCHAR);
"""


def test_cdn_alerts_fire_with_their_subjects_and_summaries():
    con = duckdb.connect()
    con.execute(SCHEMA)
    con.execute(SERVICE_CDN_DDL)
    con.execute(USER_CDN_DDL)
    con.execute(
        "INSERT INTO usage.service_daily_cdn (usage_date, distribution_id, requests) VALUES (?, 'E2ABC', 9)",
        [DAY],
    )
    con.execute("INSERT INTO usage.user_daily_cdn (usage_date, user_id, distribution_id, edge_region, requests) "
                "VALUES (?, '1007', 'E2ABC', 'US', 9)", [DAY])  # fmt: skip
    con.execute(
        "INSERT INTO anomaly.service_anomalies VALUES (?, 'E2ABC', 'cdn_hit_ratio_drop', 0.6, 0.95, 0.9, 'warning', "
        "'cache hit rate 60.00 % is below 90 %', '{}'), (?, 'E2ABC', 'cdn_bandwidth', 107374182401, NULL, "
        "107374182400, 'warning', 'x', '{}')",
        [DAY, DAY],
    )
    con.execute(
        "INSERT INTO anomaly.abuse_flags VALUES (?, '1007', 'cdn_hotlinking', 'warning', 64, 50, "
        "'usage.user_daily_cdn', ?)",
        [DAY, json.dumps({"requests": 20000, "baseline_median_requests": 150})],
    )
    alerting = load_alerting(load_rules())
    evaluate_day(con, DAY, alerting, "stage")
    replace_partitions(con, [Replacement(TABLE, "stage", "usage_date = ?", [DAY])])
    firing = {(a.rule, a.subject): a for a in read_alerts(con, [DAY]) if a.state == "firing"}
    drop = {"pattern": "cdn_hit_ratio_drop", "user_id": None, "details": {"distribution_id": "E2ABC"}}
    hot = {"pattern": "cdn_hotlinking", "user_id": "1007", "details": {}}
    assert ("cdn_hit_ratio_drop", alert_subject(drop)) in firing
    assert ("cdn_hotlinking", alert_subject(hot)) in firing
    assert ("cdn_bandwidth", "CloudFront E2ABC") in firing
    assert firing[("cdn_hit_ratio_drop", "CloudFront E2ABC")].reason == (
        "cache hit rate 60.00 % is below 90 %"  # the detector's reason
    )
    assert firing[("cdn_hotlinking", "user 1007")].reason == (
        "objects pulled through the CDN by 64 other sites in a day (threshold 50), far above the user's norm"
    )
    assert firing[("cdn_bandwidth", "CloudFront E2ABC")].reason == "x"


def test_cdn_values_read_as_on_call_expects_them_in_slack():
    from bucketlens.alerts.blocks import _unit_of, escape, format_value

    assert format_value(0.6, _unit_of("cdn_hit_ratio_drop")) == "60.0 %"
    assert format_value(0.0501, _unit_of("cdn_error_rate")) == "5.0 %"
    assert format_value(107374182401, _unit_of("cdn_bandwidth")) == "107.4 GB"
    assert format_value(64, _unit_of("cdn_hotlinking")) == "64"  # distinct referer hosts
    assert escape("CloudFront <!channel>") == "CloudFront &lt;!channel&gt;"
