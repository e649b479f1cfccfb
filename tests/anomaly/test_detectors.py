"""Each detector on tiny hand-made tables, with exact values at and around its threshold."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import duckdb
import pytest

from bucketlens.anomaly.abuse import stage_abuse_flags, stage_abuse_flags_window
from bucketlens.anomaly.rules import load_rules
from bucketlens.anomaly.scores import stage_user_anomaly_scores
from bucketlens.anomaly.service import stage_service_anomalies
from tests.rows import insert_rows

DAY = date(2026, 10, 15)
T0 = datetime(2026, 10, 15)
GIB = 1024**3
SCHEMA = """
CREATE SCHEMA raw; CREATE SCHEMA usage; CREATE SCHEMA cost;
CREATE TABLE raw.access_log_requests (usage_date DATE, request_time TIMESTAMP, request_id VARCHAR, operation VARCHAR,
    key VARCHAR, http_status INTEGER, remote_ip VARCHAR, user_agent VARCHAR, object_size BIGINT, bytes_sent BIGINT,
    user_id VARCHAR);
CREATE TABLE raw.inventory_objects (snapshot_date DATE, bucket VARCHAR, key VARCHAR, version_id VARCHAR,
    is_latest BOOLEAN, is_delete_marker BOOLEAN, size BIGINT, last_modified TIMESTAMP, e_tag VARCHAR, user_id VARCHAR);
CREATE TABLE raw.users (snapshot_date DATE, user_id VARCHAR, plan VARCHAR, quota_bytes BIGINT, created_at TIMESTAMP,
    status VARCHAR);
CREATE TABLE raw.cost_line_items (usage_start TIMESTAMP, line_item_type VARCHAR, usage_type VARCHAR,
    usage_amount DOUBLE, unblended_cost DECIMAL(18, 6), product_code VARCHAR DEFAULT 'AmazonS3');
CREATE TABLE usage.user_daily_storage (usage_date DATE, user_id VARCHAR, storage_class VARCHAR, bytes BIGINT,
    bytes_added BIGINT);
CREATE TABLE usage.user_daily_requests (usage_date DATE, user_id VARCHAR, operation VARCHAR,
    http_status_class VARCHAR, request_count BIGINT, bytes_sent BIGINT);
CREATE TABLE usage.service_daily_metrics (usage_date DATE, bucket VARCHAR, total_bytes BIGINT, request_count BIGINT,
    error_rate DOUBLE, availability DOUBLE, avg_latency_ms DOUBLE, peak_hour_requests BIGINT, requests_source VARCHAR);
CREATE TABLE cost.user_daily_cost (usage_date DATE, user_id VARCHAR, category VARCHAR, amount_usd DECIMAL(18, 6), is_estimate BOOLEAN DEFAULT false);
CREATE TABLE cost.user_quota_use (usage_date DATE, user_id VARCHAR, plan VARCHAR, quota_bytes BIGINT,
    stored_bytes BIGINT, quota_use_pct DOUBLE);
"""


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("SET enable_progress_bar = false")
    c.execute(SCHEMA)
    yield c
    c.close()


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def _requests(con, rows):
    """rows: (user, time, request_id, operation, key, status, ip, agent, size)."""
    insert_rows(
        con,
        "INSERT INTO raw.access_log_requests VALUES (CAST(? AS DATE), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (t, t, rid, op, key, st, ip, ua, size, size, user)
            for user, t, rid, op, key, st, ip, ua, size in rows
        ],
    )


def _flags(con, pattern):
    return con.execute(
        "SELECT user_id, value, threshold, evidence FROM stage_abuse_flags WHERE pattern = ? ORDER BY user_id",
        [pattern],
    ).fetchall()


def test_failed_access_storm_needs_more_than_ten_403s_and_lists_the_request_ids(con, rules):
    rows = []
    for user, n in (("u11", 11), ("u10", 10)):
        rows += [
            (user, T0 + timedelta(minutes=i), f"{user}-R{i:02d}", "REST.GET.OBJECT", f"users/{user}/a.jpg", 403,
             "185.220.101.34", "curl/8.5.0", None)
            for i in range(n)
        ]  # fmt: skip
    _requests(con, rows)
    counts = stage_abuse_flags(con, DAY, rules)
    assert counts["failed_access_storm"] == 1
    [(user, value, threshold, evidence)] = _flags(con, "failed_access_storm")
    assert (user, value, threshold) == ("u11", 11, 10)
    ev = json.loads(evidence)
    assert ev["denied_requests"] == 11
    assert ev["request_ids"] == [f"u11-R{i:02d}" for i in range(11)]
    assert ev["top_ips"] == [{"ip": "185.220.101.34", "requests": 11}]


def test_rapid_upload_uses_a_sliding_hour_across_midnight(con, rules):
    size = 10 * GIB + 1  # 10 uploads of just over 10 GiB = just over 100 GiB
    late = [("fast", T0 - timedelta(minutes=30) + timedelta(minutes=5 * i), f"F{i}", "REST.PUT.OBJECT",
             f"users/fast/v{i}.mov", 200, "1.2.3.4", "app", size) for i in range(10)]  # fmt: skip
    slow = [("slow", T0 + timedelta(hours=2 * i), f"S{i}", "REST.PUT.OBJECT", f"users/slow/v{i}.mov", 200,
             "1.2.3.5", "app", size) for i in range(10)]  # fmt: skip
    _requests(con, late + slow)
    stage_abuse_flags(con, DAY, rules)
    [(user, value, _, evidence)] = _flags(con, "rapid_upload")
    assert user == "fast" and value == 10 * size
    assert json.loads(evidence)["objects"] == 10
    # only the 4 uploads after midnight count towards the day's volume; slow's 10 do
    assert [(u, v) for u, v, *_ in _flags(con, "daily_upload_volume")] == [("slow", 10 * size)]


def test_daily_upload_volume_evidence_holds_only_the_flagged_days_uploads(con, rules):
    """Over a two-day window a user over the limit on the second day only is flagged on that day, with
    that day's uploads as evidence (not the first day's, nor a failed upload, nor another user's)."""
    size = 26 * GIB  # 4 a day is 104 GiB, over the 100 GiB limit; 3 is not
    day1 = T0 - timedelta(days=1)
    rows = [("big", day1 + timedelta(hours=i), f"D1-{i}", "REST.PUT.OBJECT", f"users/big/a{i}.mov", 200,
             "1.2.3.4", "app", size) for i in range(3)]  # fmt: skip
    rows += [("big", T0 + timedelta(hours=i), f"D2-{i}", "REST.PUT.OBJECT", f"users/big/b{i}.mov", 200,
              "1.2.3.4", "app", size + i) for i in range(4)]  # fmt: skip
    rows += [("big", T0 + timedelta(hours=5), "D2-failed", "REST.PUT.OBJECT", "users/big/c.mov", 500,
              "1.2.3.4", "app", size)]  # fmt: skip
    rows += [("small", T0 + timedelta(hours=i), f"S-{i}", "REST.PUT.PART", f"users/small/p{i}", 200,
              "1.2.3.5", "app", size) for i in range(3)]  # fmt: skip
    _requests(con, rows)
    stage_abuse_flags_window(con, DAY - timedelta(days=1), DAY, rules)
    flags = con.execute(
        "SELECT usage_date, user_id, value, evidence FROM stage_abuse_flags WHERE pattern = 'daily_upload_volume'"
    ).fetchall()
    assert [(d, u, v) for d, u, v, _ in flags] == [(DAY, "big", 4 * size + 6)]
    ev = json.loads(flags[0][3])
    assert (ev["bytes"], ev["objects"]) == (4 * size + 6, 4)
    assert ev["top_request_ids"] == ["D2-3", "D2-2", "D2-1", "D2-0"]
    assert ev["top_keys"] == ["users/big/b3.mov", "users/big/b2.mov", "users/big/b1.mov", "users/big/b0.mov"]


def test_sharing_abuse_counts_distinct_ips_of_successful_requests(con, rules):
    many = [("shared", T0 + timedelta(minutes=i), f"A{i}", "REST.GET.OBJECT", "users/shared/a.jpg", 200,
             f"10.0.0.{i}", "app", 100) for i in range(21)]  # fmt: skip
    few = [("ok", T0 + timedelta(minutes=i), f"B{i}", "REST.GET.OBJECT", "users/ok/a.jpg", 200 if i < 20 else 403,
            f"10.0.1.{i}", "app", 100) for i in range(25)]  # fmt: skip
    _requests(con, many + few)
    stage_abuse_flags(con, DAY, rules)
    [(user, value, threshold, evidence)] = _flags(con, "sharing_abuse")
    assert (user, value, threshold) == ("shared", 21, 20)
    assert len(json.loads(evidence)["sample_request_ids"]) == 20


def test_sharing_abuse_counts_distinct_user_agents_without_the_missing_one(con, rules):
    """11 agents over 3 IPs flag a user (threshold 10); 10 agents plus requests without one do not: a missing
    user agent is no client. The evidence counts each IP and agent once and every successful request."""

    def rows(user, agents, extra_without_agent):
        out = [(user, T0 + timedelta(minutes=i), f"{user}{i}", "REST.GET.OBJECT", f"users/{user}/a.jpg", 200,
                f"10.0.2.{i % 3}", agents[i % len(agents)], 100) for i in range(2 * len(agents))]  # fmt: skip
        out += [(user, T0 + timedelta(hours=2, minutes=i), f"{user}-n{i}", "REST.GET.OBJECT", f"users/{user}/a.jpg",
                 200, "10.0.2.0", None, 100) for i in range(extra_without_agent)]  # fmt: skip
        return out

    _requests(
        con,
        rows("apps", [f"app/{n}" for n in range(11)], 0) + rows("one", [f"app/{n}" for n in range(10)], 5),
    )
    stage_abuse_flags(con, DAY, rules)
    [(user, value, threshold, evidence)] = _flags(con, "sharing_abuse")
    assert (user, value, threshold) == ("apps", 3, 20)
    found = json.loads(evidence)
    assert (found["distinct_ips"], found["distinct_user_agents"], found["requests"]) == (3, 11, 22)
    assert sorted((t["ip"], t["requests"]) for t in found["top_ips"]) == [
        ("10.0.2.0", 8), ("10.0.2.1", 7), ("10.0.2.2", 7)]  # fmt: skip


def _objects(con, rows):
    """rows: (snapshot, user, key, size, last_modified, etag)."""
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects VALUES (?, 'b', ?, ?, true, false, ?, ?, ?, ?)",
        [(snap, key, f"v-{key}", size, lm, etag, user) for snap, user, key, size, lm, etag in rows],
    )


def test_inventory_patterns_flag_objects_new_in_the_snapshot(con, rules):
    yesterday = T0 - timedelta(hours=12)
    old = T0 - timedelta(days=30)
    rows = [
        (DAY, "big", "users/big/v.mov", GIB + 1, yesterday, "e1"),
        (DAY, "big", "users/big/old.mov", 3 * GIB, old, "e2"),  # large but not new: not flagged again
        (DAY, "exact", "users/exact/v.mov", GIB, yesterday, "e3"),  # exactly 1 GiB: not over
    ]
    mib150 = 150 * 1024**2  # under the 200 MB photo profile: duplicates, not disguised content
    rows += [(DAY, "dup", f"users/dup/p{i}.jpg", mib150, old, f"d{i}") for i in range(7)]
    rows += [(DAY, "dup", f"users/dup/p{i} (1).jpg", mib150, yesterday, f"d{i}") for i in range(7)]
    rows += [(DAY, "fake", f"users/fake/p{i}.jpg", 300 * 1024**2, yesterday, f"f{i}") for i in range(3)]
    rows += [(DAY, "zip", f"users/zip/photos/b{i}.zip", 100 * 1024**2, yesterday, f"z{i}") for i in range(3)]
    _objects(con, rows)
    counts = stage_abuse_flags(con, DAY, rules)
    assert [(u, v) for u, v, *_ in _flags(con, "large_object")] == [("big", GIB + 1)]
    [(user, wasted, _, evidence)] = _flags(con, "duplicate_data")
    ev = json.loads(evidence)
    assert (user, wasted, ev["copies"]) == ("dup", 7 * mib150, 7)
    assert {c["original_key"] for c in ev["copies_list"]} == {f"users/dup/p{i}.jpg" for i in range(7)}
    flagged = {u: json.loads(e) for u, _, _, e in _flags(con, "non_photo_content")}
    assert flagged.keys() == {"fake", "zip"}  # .zip by extension; 300 MB ".jpg" files by size profile
    assert flagged["zip"]["extensions"] == ["zip"] and flagged["fake"]["objects"] == 3
    assert counts["large_object"] == 1


def test_over_plan_limit_and_quota(con, rules):
    tib = 1024**4
    con.execute(
        "INSERT INTO raw.users VALUES (?, 'p', 'personal', ?, '2024-01-01', 'active'), "
        "(?, 'f', 'family', ?, '2024-01-01', 'active')",
        [DAY, 2 * tib, DAY, 10 * tib],
    )
    con.execute(
        "INSERT INTO usage.user_daily_storage VALUES (?, 'p', 'STANDARD', ?, 0), (?, 'f', 'STANDARD', ?, 0)",
        [DAY, 2 * tib + 1, DAY, 3 * tib],
    )
    con.execute(
        "INSERT INTO cost.user_quota_use VALUES (?, 'p', 'personal', 1, 1, 100.00000005), (?, 'f', 'family', 1, 1, 30)",
        [DAY, DAY],
    )
    stage_abuse_flags(con, DAY, rules)
    [(user, value, limit, evidence)] = _flags(con, "over_plan_limit")
    assert (user, value, limit, json.loads(evidence)["over_by_bytes"]) == ("p", 2 * tib + 1, 2 * tib, 1)
    assert [u for u, *_ in _flags(con, "quota_80_percent")] == ["p"]


def test_scores_flag_a_burst_against_own_history_with_a_reason(con, rules):
    con.execute("INSERT INTO raw.users VALUES (?, 'u', 'personal', 1, '2024-01-01', 'active')", [DAY])
    for d in range(29):
        day = DAY - timedelta(days=28 - d)
        added = 400 * GIB if day == DAY else 100 * 1024**2 + d * 1024**2
        con.execute(
            "INSERT INTO usage.user_daily_storage VALUES (?, 'u', 'STANDARD', ?, ?), (?, 'tiny', 'STANDARD', ?, ?)",
            [day, 50 * GIB + d * GIB, added, day, 1024**2, 5 * 1024**2 if day == DAY else 1024],
        )
    summary = stage_user_anomaly_scores(con, DAY, rules)
    assert summary["users"] == 2
    row = con.execute(
        "SELECT value, baseline, score, is_anomaly, reason, baseline_source FROM stage_user_anomaly_scores "
        "WHERE user_id = 'u' AND metric = 'bytes_added'"
    ).fetchall()[0]
    assert row[3] and row[2] > 6 and row[5] == "own_weekday"
    assert row[4].startswith("uploaded 400.0 GiB, ") and "× the usual" in row[4]
    # tiny: 5000× its usual upload, but far below the 10 GB floor: not an anomaly
    assert not con.execute(
        "SELECT bool_or(is_anomaly) FROM stage_user_anomaly_scores WHERE user_id = 'tiny'"
    ).fetchall()[0][0]


def test_service_cost_spike_and_health(con, rules):
    for d in range(8):
        day = DAY - timedelta(days=7 - d)
        usd = 30.0 if day == DAY else 10.0
        con.execute(
            "INSERT INTO raw.cost_line_items (usage_start, line_item_type, usage_type, usage_amount, unblended_cost) "
            "VALUES (?, 'Usage', 'DataTransfer-Out-Bytes', ?, ?)",
            [datetime.combine(day, datetime.min.time()), usd / 0.09, usd],
        )
        con.execute("INSERT INTO cost.user_daily_cost VALUES (?, 'u', 'transfer', ?, false)", [day, usd])
    con.execute(
        "INSERT INTO usage.service_daily_metrics VALUES (?, 'b', ?, 2000000, 0.1, 0.93, 2500, 1500000, 'cloudwatch'),"
        " (?, 'b', ?, 10, 0, 1, 10, 1, 'cloudwatch')",
        [DAY, 3 * 1024**4, DAY - timedelta(days=1), 1024**4 // 2],
    )
    counts = stage_service_anomalies(con, DAY, rules)
    assert counts == {
        "cost_spike": 1, "storage_growth": 1, "request_rate": 1, "error_rate": 1, "latency": 1,
    }  # fmt: skip
    spike = con.execute(
        "SELECT value, baseline, threshold, reason FROM stage_service_anomalies WHERE metric = 'cost_spike'"
    ).fetchall()[0]
    assert spike[:3] == pytest.approx((30.0, 10.0, 15.0))
    growth = con.execute(
        "SELECT severity, value FROM stage_service_anomalies WHERE metric = 'storage_growth'"
    ).fetchall()[0]
    assert growth == ("critical", 2.5 * 1024**4)


def test_large_retrieval_sums_the_accepted_restores_of_the_day(con, rules):
    """10 GiB a day is the line: 11 restores of 1 GiB (one refused, 403) is 10 GiB accepted — not over;
    a user restoring 12 x 1 GiB is flagged with 12 GiB, the request ids largest first."""
    over = [("big", T0 + timedelta(minutes=i), f"R{i:02d}", "REST.POST.RESTORE", f"users/big/v{i}.mov", 202,
             "1.2.3.4", "app", GIB + i) for i in range(12)]  # fmt: skip
    at = [("edge", T0 + timedelta(minutes=i), f"E{i:02d}", "REST.POST.RESTORE", f"users/edge/v{i}.mov",
           403 if i == 0 else 202, "1.2.3.5", "app", GIB) for i in range(11)]  # fmt: skip
    yesterday = [("old", T0 - timedelta(hours=1), "O1", "REST.POST.RESTORE", "users/old/v.mov", 202, "1.2.3.6",
                  "app", 20 * GIB)]  # fmt: skip
    _requests(con, over + at + yesterday)
    counts = stage_abuse_flags(con, DAY, rules)
    assert counts["large_retrieval"] == 1
    [(user, value, threshold, evidence)] = _flags(con, "large_retrieval")
    assert (user, value, threshold) == ("big", 12 * GIB + sum(range(12)), 10 * GIB)
    ev = json.loads(evidence)
    assert ev["restores"] == 12
    assert ev["top_request_ids"][:3] == ["R11", "R10", "R09"]
