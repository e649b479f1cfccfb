"""Silences: matchers, the CLI functions, and their effect — muted while active, notified after expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.policy import plan_notifications
from bucketlens.alerts.rules import load_alerting
from bucketlens.alerts.silences import (
    Matcher,
    SilenceError,
    add_silence,
    expire_silence,
    list_silences,
)
from bucketlens.alerts.state import AlertRow, alert_key
from bucketlens.anomaly.rules import load_rules

NOW = datetime(2026, 10, 2, 8, 0, tzinfo=UTC)
DAY = date(2026, 10, 1)


@pytest.fixture
def url(alert_db_url):
    """Silences on SQLite and on the real PostgreSQL server."""
    return alert_db_url


def row(rule: str, user: str, day: date = DAY) -> AlertRow:
    labels = {"user_id": user}
    return AlertRow(
        day, alert_key(rule, labels), rule, "warning", f"user {user}", "firing", day, day, 1.0, 0.5, labels,
        "reason", "{}", "SELECT 1", "abuse_flags",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("user_id=1042", {"user_id": "1042"}, True),
        ("user_id=1042", {"user_id": "10420"}, False),
        ("user_id!=1042", {"user_id": "7"}, True),
        ("rule=~large_.*", {"rule": "large_object"}, True),
        ("rule=~large", {"rule": "large_object"}, False),  # regexes match the whole value
        ("rule!~large_.*", {"rule": "rapid_upload"}, True),
        ("bucket=photos", {}, False),
    ],
)
def test_matchers_follow_alertmanager(text, labels, expected):
    assert Matcher.parse(text).matches(labels) is expected


def test_bad_silences_are_refused_with_the_reason(url):
    with pytest.raises(SilenceError, match="expected label=value"):
        add_silence(url, ["user_id"], "noise", "ana", NOW + timedelta(hours=1), now=NOW)
    with pytest.raises(SilenceError, match="bad regex"):
        add_silence(url, ["rule=~("], "noise", "ana", NOW + timedelta(hours=1), now=NOW)
    with pytest.raises(SilenceError, match="not in the future"):
        add_silence(url, ["rule=x"], "noise", "ana", NOW - timedelta(minutes=1), now=NOW)
    with pytest.raises(SilenceError, match="no silence with id 'nope'"):
        expire_silence(url, "nope", now=NOW)


def test_add_list_and_expire(url):
    sid = add_silence(
        url, ["rule=large_object", "user_id=~u[12]"], "migration", "ana", NOW + timedelta(days=1), now=NOW
    )
    (s,) = list_silences(url, now=NOW)
    assert (s.id, [str(m) for m in s.matchers], s.reason, s.created_by) == (
        sid,
        ["rule=large_object", "user_id=~u[12]"],
        "migration",
        "ana",
    )
    expire_silence(url, sid, now=NOW + timedelta(hours=1))
    assert list_silences(url, now=NOW + timedelta(hours=2)) == []
    (expired,) = list_silences(url, include_expired=True, now=NOW + timedelta(hours=2))
    assert expired.expires_at == datetime(2026, 10, 2, 9, 0)


def test_a_long_creator_name_is_stored_whole(url):
    """``--by`` is whatever the operator types; PostgreSQL enforced the old VARCHAR(256)."""
    by = "ops-team/" + "x" * 300
    add_silence(url, ["rule=x"], "noise", by, NOW + timedelta(hours=1), now=NOW)
    assert [s.created_by for s in list_silences(url, now=NOW)] == [by]


def test_a_silenced_alert_is_not_notified_until_the_silence_expires(url):
    alerting = load_alerting(load_rules())
    log = NotifyLog(url)
    add_silence(url, ["user_id=u1"], "known bulk import", "ana", NOW + timedelta(hours=6), now=NOW)
    alerts = [row("large_object", "u1"), row("duplicate_data", "u2")]

    plan = plan_notifications(alerts, NOW, alerting, log.snapshot(NOW), list_silences(url, now=NOW), "")
    assert [n.title for n in plan.notifications] == ["duplicate_data: user u2"]
    assert plan.counts["silenced"] == 1
    log.apply(plan, NOW)

    after = NOW + timedelta(hours=7)  # the silence has expired: the next evaluation notifies
    day2 = [row("large_object", "u1", DAY + timedelta(days=1))]
    plan = plan_notifications(day2, after, alerting, log.snapshot(after), list_silences(url, now=after), "")
    assert [n.title for n in plan.notifications] == ["large_object: user u1"]
    log.dispose()
