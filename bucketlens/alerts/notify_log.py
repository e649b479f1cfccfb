"""The notify log: what the engine already said about each alert group, so it never says it twice.

The policy is pure: it reads a ``LogSnapshot`` and returns a ``Plan`` (notifications to enqueue, group
states, held alerts). ``NotifyLog.planning`` runs it the only safe way: one transaction holding the
planners' lock from the snapshot to the write, in which the plan's notifications are enqueued first and
the plan is applied to the log second. Two planners (the ``alert_events`` asset and the delivery tick,
or two partitions materialized at once) therefore never plan from the same snapshot, so neither
overwrites the other's group states nor notifies a group the other just notified. The enqueue still
comes before the log records it, and both commit together: a crash before the commit leaves neither,
and the rerun plans the same identities again (which the outbox would refuse had it kept them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from bucketlens.alerts.alert_db import groups, held, notify_log, open_engine, planning_lock, utc_naive
from bucketlens.alerts.notification import AlertSummary, Notification
from bucketlens.alerts.outbox import enqueue_in

RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class GroupState:
    """One alert group as last notified."""

    group_key: str
    rule: str
    severity: str
    state: str  # firing | resolved
    members: tuple[str, ...]  # alert keys the last firing message listed
    usage_date: str  # the latest day planned for the group (older reruns are stale)
    first_identity: str  # the first message of the current firing episode (escalations thread there)
    last_identity: str  # the last firing message (a resolution edits it)
    first_notified_at: datetime
    last_notified_at: datetime
    escalated: bool = False
    suppressed: bool = False  # the last "message" was a line in a suppression summary


@dataclass(frozen=True)
class HeldAlert:
    group_key: str
    summary: AlertSummary
    due_at: datetime


@dataclass
class LogSnapshot:
    groups: dict[str, GroupState] = field(default_factory=dict)
    recent: list[tuple[str, datetime]] = field(default_factory=list)  # (rule, sent at) of alert messages
    identities: set[str] = field(default_factory=set)
    held: list[HeldAlert] = field(default_factory=list)


@dataclass
class Plan:
    """What one policy call decided; ``NotifyLog.apply`` records it."""

    notifications: list[Notification] = field(default_factory=list)
    groups: dict[str, GroupState] = field(default_factory=dict)  # changed group states
    held: list[HeldAlert] = field(default_factory=list)  # new held alerts (replace the group's)
    released: set[str] = field(default_factory=set)  # groups whose held alerts are cleared
    counts: dict[str, int] = field(
        default_factory=dict
    )  # silenced, inhibited, held_back, suppressed, digested

    def hold(self, key: str, items: list[HeldAlert]) -> None:
        """The group's waiting members are now ``items`` (a later day of the window replaces them)."""
        self.held = [h for h in self.held if h.group_key != key] + items

    def release(self, key: str) -> None:
        """The group spoke (or resolved): nothing of it waits any more."""
        self.held = [h for h in self.held if h.group_key != key]
        self.released.add(key)

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def summary_json(summary: AlertSummary) -> str:
    return Notification(identity="-", kind="alert", channel="-", severity="info", title="", group_key="", alerts=(summary,)).to_json()  # fmt: skip


def summary_from_json(text: str) -> AlertSummary:
    return Notification.from_json(text).alerts[0]


class Planning:
    """One planner's turn, inside the planners' lock: read the log, then record what was decided."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.enqueued = 0  # notifications the outbox accepted in this turn (reruns: refused, not counted)

    def snapshot(self, now: datetime, keep: timedelta = timedelta(days=60)) -> LogSnapshot:
        return read_snapshot(self._conn, now, keep)

    def record(self, plan: Plan, now: datetime) -> int:
        """Enqueue the plan's notifications, then apply the plan to the log; returns how many the outbox
        accepted (a rerun's are refused: they are there already)."""
        accepted = sum(1 for n in plan.notifications if enqueue_in(self._conn, n, now))
        apply_plan(self._conn, plan, now)
        self.enqueued += accepted
        return accepted

    def run(self, planner: Callable[[LogSnapshot], Plan], now: datetime) -> Plan:
        """``planner`` on a fresh snapshot (which sees this turn's earlier records), recorded."""
        plan = planner(self.snapshot(now))
        self.record(plan, now)
        return plan


class NotifyLog:
    """The ``alert_*`` tables at a SQLAlchemy URL (the outbox's database)."""

    def __init__(self, url: str) -> None:
        self._engine = open_engine(url)

    def dispose(self) -> None:
        self._engine.dispose()

    @contextmanager
    def planning(self) -> Iterator[Planning]:
        """One planner at a time (``alert_db.planning_lock``), from the snapshot to the commit; an
        exception rolls back everything the turn enqueued and recorded."""
        with self._engine.connect() as conn:
            planning_lock(conn)
            yield Planning(conn)
            conn.commit()

    def snapshot(self, now: datetime, keep: timedelta = timedelta(days=60)) -> LogSnapshot:
        """What the log holds now, without the lock: for reading, not for planning."""
        with self._engine.connect() as conn:
            return read_snapshot(conn, now, keep)

    def apply(self, plan: Plan, now: datetime) -> None:
        """Record a plan in its own transaction (no enqueue): for tests replaying the policy."""
        with self._engine.begin() as conn:
            apply_plan(conn, plan, now)


def read_snapshot(c: sa.Connection, now: datetime, keep: timedelta = timedelta(days=60)) -> LogSnapshot:
    """Everything the policy reads: group states, the last hour's alert messages per rule, recent
    identities and held alerts."""
    moment = utc_naive(now)
    states = {
        r["group_key"]: GroupState(**{**r, "members": tuple(json.loads(r["members"]))})
        for r in c.execute(sa.select(groups)).mappings()
    }
    recent = c.execute(
        sa.select(notify_log.c.rule, notify_log.c.created_at).where(
            notify_log.c.kind == "alert", notify_log.c.created_at > moment - RATE_WINDOW
        )
    ).all()
    identities = c.execute(
        sa.select(notify_log.c.identity).where(notify_log.c.created_at > moment - keep)
    ).all()
    waiting = c.execute(sa.select(held)).mappings().all()
    return LogSnapshot(
        groups=states,
        recent=[(r, t) for r, t in recent],
        identities={i for (i,) in identities},
        held=[HeldAlert(h["group_key"], summary_from_json(h["summary"]), h["due_at"]) for h in waiting],
    )


def apply_plan(c: sa.Connection, plan: Plan, now: datetime) -> None:
    """Record a plan on ``c``; notifications already logged (same identity) are skipped."""
    moment = utc_naive(now)
    known = {
        i
        for (i,) in c.execute(
            sa.select(notify_log.c.identity).where(
                notify_log.c.identity.in_([n.identity for n in plan.notifications])
            )
        )
    }
    for n in plan.notifications:
        if n.identity in known:
            continue
        known.add(n.identity)
        c.execute(sa.insert(notify_log).values(**_log_row(n, moment)))
    for state in plan.groups.values():
        row = {**state.__dict__, "members": json.dumps(list(state.members))}
        row["first_notified_at"] = utc_naive(state.first_notified_at)
        row["last_notified_at"] = utc_naive(state.last_notified_at)
        c.execute(sa.delete(groups).where(groups.c.group_key == state.group_key))
        c.execute(sa.insert(groups).values(**row))
    replaced = plan.released | {h.group_key for h in plan.held}
    if replaced:
        c.execute(sa.delete(held).where(held.c.group_key.in_(sorted(replaced))))
    for h in plan.held:
        c.execute(
            sa.insert(held).values(
                group_key=h.group_key,
                alert_key=h.summary.alert_key,
                summary=summary_json(h.summary),
                usage_date=h.summary.usage_date,
                due_at=utc_naive(h.due_at),
            )
        )


def _log_row(n: Notification, moment: datetime) -> dict:
    return {
        "identity": n.identity,
        "kind": n.kind,
        "group_key": n.group_key,
        "rule": similar_key(n.alerts, n.group_key),
        "severity": n.severity,
        "channel": n.channel,
        "members": json.dumps(sorted({a.alert_key for a in n.alerts})),
        "usage_date": max((a.usage_date for a in n.alerts), default=""),
        "created_at": moment,
    }


def similar_key(alerts: tuple[AlertSummary, ...], group_key: str) -> str:
    """What "similar" means for "at most N per hour": the rule, when a message is about one rule."""
    rules = sorted({a.rule for a in alerts})
    return rules[0] if len(rules) == 1 else group_key
