"""Alert state on tiny hand-made tables: identity, firing → resolved, NoData, ``for``, evidence."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bucketlens.alerts.rules import load_alerting
from bucketlens.alerts.state import TABLE, alert_key, evaluate_day, evaluate_window, read_alerts
from bucketlens.anomaly.rules import load_rules
from resources.warehouse import Replacement, replace_partitions
from tests.rows import insert_rows

D1 = date(2026, 10, 1)
SCHEMA = """
CREATE SCHEMA anomaly; CREATE SCHEMA usage;
CREATE TABLE anomaly.abuse_flags (usage_date DATE, user_id VARCHAR, pattern VARCHAR, severity VARCHAR,
    value DOUBLE, threshold DOUBLE, evidence_table VARCHAR, evidence VARCHAR);
CREATE TABLE usage.user_daily_storage (usage_date DATE, user_id VARCHAR, bytes BIGINT);
CREATE TABLE usage.service_daily_metrics (usage_date DATE, bucket VARCHAR, error_rate DOUBLE);
"""
RULES = {
    "alerts": {
        "rules": [
            {"name": "rapid_upload", "source": "anomaly.abuse_flags", "where": {"pattern": "rapid_upload"},
             "severity": "from_source", "labels": ["user_id"], "subject": "user {user_id}",
             "data_from": "usage.user_daily_storage",
             "summary": "uploaded {value:bytes} within one hour (threshold {threshold:bytes})"},
            {"name": "large_account", "source": "anomaly.abuse_flags", "where": {"pattern": "large_account"},
             "severity": "warning", "labels": ["user_id"], "subject": "user {user_id}", "for": "2d",
             "data_from": "usage.user_daily_storage"},
            {"name": "error_rate", "source": "usage.service_daily_metrics", "value": "error_rate", "op": ">",
             "threshold": 0.05, "severity": "critical", "labels": ["bucket"], "subject": "bucket {bucket}",
             "summary": "{value:num} of requests failed"},
        ]
    }
}  # fmt: skip
GIB = 1024**3


@pytest.fixture(scope="module")
def alerting():
    return load_alerting(dataclasses.replace(load_rules(), alerting=RULES))


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(SCHEMA)
    yield c
    c.close()


def day(n: int) -> date:
    return D1 + timedelta(days=n - 1)


def storage(con, n: int, users=("u1", "u2")) -> None:
    """The day's usage exists (the flags table is sparse: no flag is not no data)."""
    insert_rows(con, "INSERT INTO usage.user_daily_storage VALUES (?, ?, 1)", [(day(n), u) for u in users])


def flag(con, n: int, user: str, pattern: str = "rapid_upload", value: float = 150 * GIB) -> None:
    con.execute(
        "INSERT INTO anomaly.abuse_flags VALUES (?, ?, ?, 'critical', ?, ?, 'raw.access_log_requests', ?)",
        [day(n), user, pattern, value, 100 * GIB, json.dumps({"top_request_ids": ["R1", "R2"]})],
    )


def run(con, alerting, n: int) -> dict[tuple[str, str], tuple]:
    """Evaluate and store day ``n``; (rule, subject) → (state, first_seen, last_seen, value)."""
    evaluate_day(con, day(n), alerting, "stage")
    replace_partitions(con, [Replacement(TABLE, "stage", "usage_date = ?", [day(n)])])
    rows = con.execute(
        f"SELECT rule, subject, state, first_seen, last_seen, value FROM {TABLE} WHERE usage_date = ?",
        [day(n)],
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def test_alert_key_is_a_stable_hash_of_rule_and_sorted_labels_equal_in_sql_and_python(con, alerting):
    assert alert_key("error_rate", {"metric": "error_rate", "bucket": "b"}) == alert_key(
        "error_rate", {"bucket": "b", "metric": "error_rate"}
    )
    assert alert_key("rapid_upload", {"user_id": "u1"}) != alert_key("rapid_upload", {"user_id": "u2"})
    assert alert_key("rapid_upload", {"user_id": "u1"}) != alert_key("large_object", {"user_id": "u1"})
    storage(con, 1)
    flag(con, 1, "u1")
    run(con, alerting, 1)
    (stored,) = con.execute(f"SELECT alert_key, labels FROM {TABLE}").fetchall()
    assert stored == (alert_key("rapid_upload", {"user_id": "u1"}), '{"user_id":"u1"}')
    assert len(stored[0]) == 20


def test_an_alert_fires_while_the_condition_holds_then_resolves(con, alerting):
    for n in (1, 2, 3):
        storage(con, n)
    flag(con, 1, "u1")
    flag(con, 2, "u1")
    assert run(con, alerting, 1)[("rapid_upload", "user u1")] == ("firing", day(1), day(1), 150 * GIB)
    assert run(con, alerting, 2)[("rapid_upload", "user u1")] == ("firing", day(1), day(2), 150 * GIB)
    # day 3: data exists, no flag → resolved, keeping the streak's first and last day
    assert run(con, alerting, 3) == {("rapid_upload", "user u1"): ("resolved", day(1), day(2), 150 * GIB)}


def test_a_rerun_replaces_the_day_without_duplicates(con, alerting):
    storage(con, 1)
    flag(con, 1, "u1")
    run(con, alerting, 1)
    run(con, alerting, 1)
    assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchall() == [(1,)]


def test_no_data_is_not_zero_and_never_resolves(con, alerting):
    storage(con, 1)
    flag(con, 1, "u1")
    run(con, alerting, 1)
    # day 2: neither flags nor usage rows → NoData, carried with the last values
    assert run(con, alerting, 2) == {("rapid_upload", "user u1"): ("nodata", day(1), day(1), 150 * GIB)}
    # day 3: data again and the condition still holds → the same streak goes on
    storage(con, 3)
    flag(con, 3, "u1")
    assert run(con, alerting, 3)[("rapid_upload", "user u1")] == ("firing", day(1), day(3), 150 * GIB)


def test_for_two_days_fires_only_on_the_second_consecutive_day(con, alerting):
    for n in (1, 2, 3, 4):
        storage(con, n)
    for n in (1, 2, 4):
        flag(con, n, "u2", pattern="large_account", value=6e12)
    assert run(con, alerting, 1)[("large_account", "user u2")][0] == "pending"
    assert run(con, alerting, 2)[("large_account", "user u2")][:2] == ("firing", day(1))
    assert run(con, alerting, 3) == {("large_account", "user u2"): ("resolved", day(1), day(2), 6e12)}
    assert run(con, alerting, 4)[("large_account", "user u2")][:2] == ("pending", day(4))


def test_a_metric_rule_compares_value_with_its_threshold(con, alerting):
    insert_rows(
        con,
        "INSERT INTO usage.service_daily_metrics VALUES (?, ?, ?)",
        [(day(1), "photos", 0.07), (day(1), "avatars", 0.05)],
    )
    state = run(con, alerting, 1)
    assert state == {("error_rate", "bucket photos"): ("firing", day(1), day(1), 0.07)}
    (alert,) = read_alerts(con, [day(1)])
    assert (alert.severity, alert.threshold, alert.reason) == ("critical", 0.05, "0.07 of requests failed")
    # no rows for the bucket metrics table on day 2 → NoData, not resolved
    assert run(con, alerting, 2) == {("error_rate", "bucket photos"): ("nodata", day(1), day(1), 0.07)}


def test_each_alert_carries_reason_evidence_and_a_query_listing_its_rows(con, alerting):
    storage(con, 1)
    flag(con, 1, "o'brien")
    flag(con, 1, "u2", pattern="daily_upload_volume")  # another pattern: not this rule's row
    run(con, alerting, 1)
    (alert,) = read_alerts(con, [day(1)])
    assert alert.severity == "critical"  # from the flag's own severity
    assert alert.reason == "uploaded 150.0 GiB within one hour (threshold 100.0 GiB)"
    assert json.loads(alert.evidence) == {"top_request_ids": ["R1", "R2"]}
    assert alert.asset == "abuse_flags"
    rows = con.execute(alert.evidence_query).fetchall()
    assert [(r[1], r[2]) for r in rows] == [("o'brien", "rapid_upload")]


# --- a window of days in one statement equals the days one by one ---------------------------------------


def run_window(con, alerting, first: int, last: int) -> None:
    """Evaluate days ``first``..``last`` in one statement and store them (what alert_events does)."""
    evaluate_window(con, day(first), day(last), alerting, "stage")
    replace_partitions(
        con, [Replacement(TABLE, "stage", "usage_date BETWEEN ? AND ?", [day(first), day(last)])]
    )


def all_alerts(con) -> list[tuple]:
    return con.execute(f"SELECT * FROM {TABLE} ORDER BY usage_date, alert_key").fetchall()


def test_a_window_evolves_pending_firing_nodata_and_resolved_as_its_days_one_by_one(alerting):
    # large_account has `for: 2d`; rapid_upload fires at once; day 3 has no usage rows (no data).
    def scenario(c):
        c.execute(SCHEMA)
        for n in (1, 2, 4, 5, 6):
            storage(c, n)
        for n in (1, 2, 3, 4):
            flag(c, n, "u2", pattern="large_account", value=6e12)
        flag(c, 1, "u1")
        flag(c, 2, "u1")
        flag(c, 5, "u1")

    daily, ranged = duckdb.connect(), duckdb.connect()
    scenario(daily)
    scenario(ranged)
    for n in range(1, 7):
        run(daily, alerting, n)
    run_window(ranged, alerting, 1, 6)
    assert all_alerts(ranged) == all_alerts(daily)
    states = ranged.execute(
        f"SELECT usage_date, subject, state, first_seen FROM {TABLE} WHERE rule = 'large_account' ORDER BY 1"
    ).fetchall()
    assert [(s, f) for _, _, s, f in states] == [
        ("pending", day(1)),  # held one day of two
        ("firing", day(1)),  # second day: fires, its streak from day 1
        ("firing", day(1)),  # day 3: no usage rows, but the flag is there: still firing
        ("firing", day(1)),
        ("resolved", day(1)),  # day 5: data, no flag
    ]
    u1 = ranged.execute(
        f"SELECT state, first_seen FROM {TABLE} WHERE rule = 'rapid_upload' ORDER BY usage_date"
    ).fetchall()
    # day 3: no data → nodata (not resolved); day 4: data, no flag → resolved; day 5: a new streak
    assert u1 == [
        ("firing", day(1)), ("firing", day(1)), ("nodata", day(1)), ("resolved", day(1)), ("firing", day(5)),
        ("resolved", day(5)),
    ]  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    days=st.lists(
        st.fixed_dictionaries(
            {
                "storage": st.booleans(),
                "flags": st.sets(st.sampled_from([("u1", "rapid_upload"), ("u2", "rapid_upload"),
                                                  ("u1", "large_account"), ("u2", "large_account")])),
                "error_rate": st.one_of(st.none(), st.sampled_from([0.01, 0.07, 0.2])),
            }
        ),
        min_size=9,
        max_size=9,
    ),
    split=st.integers(1, 8),
)  # fmt: skip
def test_any_sequence_of_days_evolves_in_a_window_exactly_as_day_by_day(alerting, days, split):
    """Days 1..split are stored first (run one by one); split+1..9 then run as one window in one database
    and day by day in the other: the stored state before the window carries into it the same way."""

    def scenario(c):
        c.execute(SCHEMA)
        for n, d in enumerate(days, start=1):
            if d["storage"]:
                storage(c, n)
            for user, pattern in sorted(d["flags"]):
                flag(c, n, user, pattern=pattern)
            if d["error_rate"] is not None:
                c.execute(
                    "INSERT INTO usage.service_daily_metrics VALUES (?, 'photos', ?)",
                    [day(n), d["error_rate"]],
                )

    daily, ranged = duckdb.connect(), duckdb.connect()
    scenario(daily)
    scenario(ranged)
    for n in range(1, split + 1):
        run(daily, alerting, n)
        run(ranged, alerting, n)
    for n in range(split + 1, len(days) + 1):
        run(daily, alerting, n)
    if split < len(days):
        run_window(ranged, alerting, split + 1, len(days))
    assert all_alerts(ranged) == all_alerts(daily)
