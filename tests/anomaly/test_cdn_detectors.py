"""The CDN detectors (issue 20) on hand-made usage tables: the runbooks' CloudFront lines per
distribution (hit rate < 90 %, error rate > 5 %, > 100 GB a day) and per-user hotlinking, at and around
their thresholds; without CloudFront tables nothing changes."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest

from assets.usage.service_daily_cdn import TABLE_DDL as SERVICE_CDN_DDL
from assets.usage.user_daily_cdn import TABLE_DDL as USER_CDN_DDL
from bucketlens.anomaly.abuse import stage_abuse_flags
from bucketlens.anomaly.evaluation import alert_subject
from bucketlens.anomaly.rules import RulesError, load_rules, parse_rules
from bucketlens.anomaly.service import stage_service_anomalies
from tests.anomaly.test_detectors import DAY, GIB, SCHEMA
from tests.rows import insert_rows


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(SCHEMA)
    yield c
    c.close()


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def _service(con, rows):
    """rows: (day, distribution, requests, bytes, error_rate, hit_rate)."""
    con.execute(SERVICE_CDN_DDL)
    insert_rows(
        con,
        "INSERT INTO usage.service_daily_cdn (usage_date, distribution_id, requests, bytes_downloaded, error_rate, "
        "error_rate_4xx, error_rate_5xx, cache_hit_rate, cache_hit_rate_source, requests_source) "
        "VALUES (?, ?, ?, ?, ?, ?, 0, ?, 'logs', 'logs')",
        [(d, dist, r, b, e, e, h) for d, dist, r, b, e, h in rows],
    )


def _anomalies(con, metric):
    return con.execute(
        "SELECT bucket, value, baseline, threshold, severity, reason FROM stage_service_anomalies "
        "WHERE metric = ? ORDER BY bucket",
        [metric],
    ).fetchall()


def test_cdn_hit_rate_error_rate_and_bandwidth_lines(con, rules):
    week = [(DAY - timedelta(days=i), "EDROP", 5000, GIB, 0.01, 0.95) for i in range(1, 8)]
    _service(
        con,
        [
            *week,
            (DAY, "EDROP", 5000, GIB, 0.01, 0.6),  # the drop: 60 % after a 95 % week
            (DAY, "EOK", 5000, GIB, 0.01, 0.90),  # exactly at the line: not below it
            (DAY, "EFEW", 499, GIB, 0.0, 0.10),  # too few requests to judge (the line is 500)
            (DAY, "EERR", 5000, GIB, 0.0501, 0.95),  # 5.01 % errors: critical
            (DAY, "EBIG", 5000, 100 * GIB + 1, 0.05, 0.95),  # one byte over 100 GB; 5 % errors is not over
        ],
    )
    counts = stage_service_anomalies(con, DAY, rules)
    assert (counts["cdn_hit_ratio_drop"], counts["cdn_error_rate"], counts["cdn_bandwidth"]) == (1, 1, 1)
    [(dist, value, baseline, threshold, severity, reason)] = _anomalies(con, "cdn_hit_ratio_drop")
    assert (dist, value, threshold, severity) == ("EDROP", 0.6, 0.9, "warning")
    assert baseline == pytest.approx(0.95)
    assert reason == "cache hit rate 60.00 % is below 90 %; trailing week 95.00 % (5,000 requests; from logs)"
    [(dist, value, _, threshold, severity, reason)] = _anomalies(con, "cdn_error_rate")
    assert (dist, value, threshold, severity) == ("EERR", 0.0501, 0.05, "critical")
    assert reason == "5.01 % of CloudFront requests answered 4xx/5xx (line 5 %)"
    [(dist, value, _, threshold, severity, _)] = _anomalies(con, "cdn_bandwidth")
    assert (dist, value, threshold, severity) == ("EBIG", 100 * GIB + 1, 100 * GIB, "warning")


def _user_cdn(con, rows):
    """rows: (day, user, requests, user_referer_hosts)."""
    con.execute(USER_CDN_DDL)
    insert_rows(
        con,
        "INSERT INTO usage.user_daily_cdn (usage_date, user_id, distribution_id, edge_region, requests, "
        "bytes_sent, user_referer_hosts) VALUES (?, ?, 'E1', 'US', ?, 0, ?)",
        rows,
    )


def test_cdn_hotlinking_needs_many_referers_and_ten_times_the_users_median(con, rules):
    history = []
    for i in range(1, 8):  # 7 days of history (min_history_days = 7)
        day = DAY - timedelta(days=i)
        history += [(day, "hot", 200, 2), (day, "popular", 5000, 80), (day, "steady", 100, 1)]
        history += [(day, "new", 0, 0)] if i > 4 else []  # days without the user's requests count 0
    today = [
        (DAY, "hot", 2000, 50),  # 50 hosts, 2,000 ≥ 10 × 200: flagged
        (DAY, "popular", 20000, 300),  # many hosts but only 4 × its median of 5,000: its norm
        (DAY, "steady", 999, 60),  # ≥ 10 × 100 but under min_requests 1,000
        (DAY, "new", 1500, 49),  # median 0 but 49 hosts: one short
        (DAY, "_shared", 99999, 999),  # nobody's: never flagged
    ]
    _user_cdn(con, history + today)
    counts = stage_abuse_flags(con, DAY, rules)
    assert counts["cdn_hotlinking"] == 1
    [(user, value, threshold, evidence)] = con.execute(
        "SELECT user_id, value, threshold, evidence FROM stage_abuse_flags WHERE pattern = 'cdn_hotlinking'"
    ).fetchall()
    assert (user, value, threshold) == ("hot", 50, 50)
    ev = json.loads(evidence)
    assert (ev["requests"], ev["baseline_median_requests"], ev["baseline_days"]) == (2000, 200, 7)


def test_cdn_hotlinking_waits_for_a_week_of_cdn_history(con, rules):
    _user_cdn(con, [(DAY - timedelta(days=i), "hot", 10, 1) for i in range(1, 7)] + [(DAY, "hot", 5000, 90)])
    assert stage_abuse_flags(con, DAY, rules)["cdn_hotlinking"] == 0  # 6 days < min_history_days 7


def test_without_cloudfront_tables_the_detectors_are_unchanged(con, rules):
    flags = stage_abuse_flags(con, DAY, rules)
    assert flags["cdn_hotlinking"] == 0
    assert not {m for m in stage_service_anomalies(con, DAY, rules) if m.startswith("cdn_")}


def test_cdn_rules_are_validated_and_optional():
    import yaml

    from bucketlens.anomaly.rules import DEFAULT_RULES

    raw = yaml.safe_load(DEFAULT_RULES.read_text())
    del raw["abuse"]["cdn_hotlinking"], raw["service"]["cdn_hit_rate"]
    older = parse_rules(raw)  # a rules file written before issue 20 keeps loading, with the runbook's lines
    assert older.abuse.cdn_hotlinking.min_referer_hosts == 50 and older.service.cdn_hit_rate.below == 0.9
    raw["abuse"]["cdn_hotlinking"] = {"min_referer_hosts": 0, "min_ratio": 10, "min_requests": 1,
                                      "baseline_days": 7, "min_history_days": 8, "severity": "loud"}  # fmt: skip
    raw["service"]["cdn_hit_rate"] = {"below": 1.5, "min_requests": 1, "severity": "warning"}
    with pytest.raises(RulesError) as err:
        parse_rules(raw)
    text = "; ".join(err.value.errors)
    for fragment in ("abuse.cdn_hotlinking.min_referer_hosts", "abuse.cdn_hotlinking.severity",
                     "service.cdn_hit_rate.below"):  # fmt: skip
        assert fragment in text, text


def test_alert_subject_of_cdn_labels():
    drop = {"pattern": "cdn_hit_ratio_drop", "user_id": None, "details": {"distribution_id": "E2ABC"}}
    assert alert_subject(drop) == "CloudFront E2ABC"
    assert alert_subject({"pattern": "cdn_hotlinking", "user_id": "1007", "details": {}}) == "user 1007"
