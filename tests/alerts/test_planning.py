"""Planners serialized (issue 14, defect 4) and the alert tables' column lengths (defect 5), on SQLite and
on a real PostgreSQL server.

Two planners at once are normal: ``alert_events`` for two partitions of a backfill, or ``alert_events``
and the delivery tick's release. Each used to read the notify log, plan, and write, with no lock: both
saw a new group as new and both notified it, and the last writer's group states won. The planner here
sleeps between its snapshot and its write, which is where the other one used to slip in. (Two planner
*processes*, and many trials: tests/faults/test_alert_faults.py.)
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from bucketlens.alerts.alert_db import groups, notifications, notify_log
from bucketlens.alerts.grouping import MAX_GROUP_KEY_CHARS
from bucketlens.alerts.notify_log import NotifyLog
from bucketlens.alerts.policy import plan_notifications
from tests.alerts.planner import UI, alert_row, alerting, plan_turn

NOW = datetime(2026, 10, 3, 8, 0, tzinfo=UTC)
DAY = date(2026, 10, 2)
PLAN_DELAY_S = 0.2


def day_alerts(day: date, own_rule: str) -> list[tuple[str, str, date]]:
    """``alert_events``' alerts for ``day``: a group every planner shares (daily_upload_volume, users u1
    and u2) and one of its own."""
    return [("daily_upload_volume", "u1", day), ("daily_upload_volume", "u2", day), (own_rule, "u9", day)]


def plan_day(url: str, day: date, own_rule: str, delay: float = PLAN_DELAY_S, barrier=None) -> int:
    return plan_turn(url, day_alerts(day, own_rule), NOW, delay, barrier)


def outcome(url: str) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """(group key, kind) of every outbox row, and each group's (state, members JSON)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        sent = sorted(
            (n.group_key, n.kind)
            for n in conn.execute(sa.select(notify_log.c.group_key, notify_log.c.kind)).all()
        )
        outbox = conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar()
        state = {g.group_key: (g.state, g.members) for g in conn.execute(sa.select(groups)).all()}
    engine.dispose()
    assert outbox == len(sent)  # enqueued and logged together, nothing in one and not the other
    return sent, state


EXPECTED_GROUPS = {
    "rule=daily_upload_volume": (
        "firing",
        '["'
        + '", "'.join(
            sorted(
                [
                    alert_row("daily_upload_volume", "u1", DAY).alert_key,
                    alert_row("daily_upload_volume", "u2", DAY).alert_key,
                ]
            )
        )
        + '"]',
    ),  # fmt: skip
    "rule=large_object": ("firing", f'["{alert_row("large_object", "u9", DAY).alert_key}"]'),
    "rule=duplicate_data": ("firing", f'["{alert_row("duplicate_data", "u9", DAY).alert_key}"]'),
}


def test_two_planner_threads_notify_a_shared_new_group_once_and_keep_both_groups(alert_db_url):
    NotifyLog(alert_db_url).dispose()  # tables exist before the race (as after the first run)
    barrier = threading.Barrier(2)
    enqueued: list[int] = []
    days = ((DAY, "large_object"), (DAY + timedelta(days=1), "duplicate_data"))
    threads = [
        threading.Thread(
            target=lambda d=d, r=r: enqueued.append(plan_day(alert_db_url, d, r, barrier=barrier))
        )
        for d, r in days
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent, state = outcome(alert_db_url)
    assert sorted(enqueued) == [1, 2]  # whoever came second found the shared group notified already
    assert sent == [("rule=daily_upload_volume", "alert"), ("rule=duplicate_data", "alert"), ("rule=large_object", "alert")]  # fmt: skip
    assert state == EXPECTED_GROUPS


def test_a_failed_planning_turn_leaves_neither_outbox_rows_nor_log_rows(alert_db_url):
    """Enqueue and log commit together: a planner that fails after enqueueing leaves nothing half-done."""
    log = NotifyLog(alert_db_url)
    rules = alerting()
    with pytest.raises(RuntimeError, match="after enqueue"), log.planning() as turn:
        turn.record(
            plan_notifications(
                [alert_row("large_object", "u1", DAY)], NOW, rules, turn.snapshot(NOW), [], UI
            ),
            NOW,
        )
        raise RuntimeError("killed after enqueue")
    log.dispose()

    assert outcome(alert_db_url) == ([], {})
    assert plan_day(alert_db_url, DAY, "large_object", delay=0) == 2  # the rerun plans them again


def test_a_multi_rule_group_key_of_512_characters_is_logged(alert_db_url):
    """Grouped by user, a message about two rules is "similar" by its group key (similar_key), which the
    notify log stores as its rule: up to 512 characters, not the old VARCHAR(256)."""
    rules = alerting(group_by=["user_id"])
    user = "u" * (MAX_GROUP_KEY_CHARS - len("user_id="))
    alerts = [alert_row("large_object", user, DAY), alert_row("duplicate_data", user, DAY)]
    log = NotifyLog(alert_db_url)
    with log.planning() as turn:
        [n] = turn.run(lambda snap: plan_notifications(alerts, NOW, rules, snap, [], UI), NOW).notifications
    log.dispose()

    assert len(n.group_key) == MAX_GROUP_KEY_CHARS and n.title == f"{n.group_key}: 2 alerts"
    engine = sa.create_engine(alert_db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(notify_log.c.rule)).scalars().all() == [n.group_key]
    engine.dispose()


def test_group_keys_over_512_characters_are_bounded_and_stay_distinct(alert_db_url):
    rules = alerting(group_by=["user_id"])
    users = ["x" * 3000 + "a", "x" * 3000 + "b"]  # the same first 3000 characters
    log = NotifyLog(alert_db_url)
    with log.planning() as turn:
        plan = turn.run(
            lambda snap: plan_notifications(
                [alert_row("large_object", u, DAY) for u in users], NOW, rules, snap, [], UI
            ),
            NOW,
        )
    log.dispose()

    keys = [n.group_key for n in plan.notifications]
    assert len(set(keys)) == 2 and {len(k) for k in keys} == {MAX_GROUP_KEY_CHARS}
    assert outcome(alert_db_url)[1].keys() == set(keys)
