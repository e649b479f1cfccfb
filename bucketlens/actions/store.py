"""The response actions' state, and every change to it: planning, approval, rejection, expiry, lifts.

Each change happens in one transaction holding the action planners' lock (``planning_lock`` with its own
key): it reads the request as it is, changes it only if it is still in the state the change expects
(a conditional ``UPDATE``), queues what it sends (the webhook and its lift, a Slack edit) and writes the
audit — so two approvers cannot both approve, an approval racing the expiry either wins or finds the
request expired, and a crash leaves all of it or none of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa

from bucketlens.actions import notices
from bucketlens.actions.db import (
    ACTIONS_LOCK_KEY,
    action_endpoints,
    action_log,
    action_outbox,
    action_requests,
    open_action_engine,
)
from bucketlens.actions.model import ActionRequest, LogEntry, decision_entry, lift_id, webhook_body
from bucketlens.actions.outbox import LIFTED, WEBHOOK, ActionOutbox, Outgoing, enqueue_in
from bucketlens.actions.planner import Plan, Snapshot, outgoing_request, plan_actions
from bucketlens.actions.policies import ActionsSection
from bucketlens.alerts.alert_db import insert_new, planning_lock
from bucketlens.alerts.notification import Notification
from bucketlens.alerts.outbox import enqueue_in as enqueue_notification
from bucketlens.alerts.state import AlertRow
from bucketlens.leased_queue import utc_naive

DECISIONS = {"approve": "approved", "reject": "rejected"}


class ActionError(ValueError):
    """An operator's request that cannot be done (unknown id, already decided): one line, no traceback."""


def endpoint_shown(url: str) -> str:
    """Scheme, host and path of an endpoint: a query string may carry a token, so it is never shown."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"


def endpoint_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """What ``decide`` did, for the command line and the Dagster job to print."""

    request: ActionRequest
    outcome: str  # approved | rejected
    queued: int  # webhooks queued (the request and its lift)


def insert_log(conn: sa.Connection, entry: LogEntry) -> bool:
    return insert_new(conn, action_log, entry.row(), "id")


class ActionStore:
    """The action tables at the alert database's SQLAlchemy URL."""

    def __init__(self, url: str, max_attempts: int = 8) -> None:
        self._engine = open_action_engine(url)
        self.outbox = ActionOutbox(self._engine, max_attempts)

    def __repr__(self) -> str:
        return f"ActionStore({self._engine.url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def dispose(self) -> None:
        self._engine.dispose()

    @contextmanager
    def locked(self) -> Iterator[sa.Connection]:
        """One transaction holding the action planners' lock; committed when the block ends."""
        with self._engine.connect() as conn:
            planning_lock(conn, ACTIONS_LOCK_KEY)
            yield conn
            conn.commit()

    # --- planning ---------------------------------------------------------------------------------------

    def snapshot(self, conn: sa.Connection) -> Snapshot:
        requests = {r.request_id: r for r in _requests(conn)}
        last: dict[tuple[str, str, str], str] = {}
        for r in requests.values():
            if r.state != "skipped":
                key = (r.user_id, r.rule, r.action)
                last[key] = max(last.get(key, r.episode), r.episode)
        return Snapshot(requests, last)

    def plan(
        self, alerts: list[AlertRow], actions: ActionsSection, channels: dict[str, str], now: datetime
    ) -> tuple[Plan, dict[str, int]]:
        """Plan the actions ``alerts`` call for and record them, from the snapshot to the commit inside
        the lock (two planners never decide from the same snapshot)."""
        with self.locked() as conn:
            plan = plan_actions(alerts, actions, channels, self.snapshot(conn), now)
            written = self.apply(conn, plan, now)
        return plan, written

    def apply(self, conn: sa.Connection, plan: Plan, now: datetime) -> dict[str, int]:
        """Record ``plan`` on ``conn`` (inside ``locked``): what was new is counted, reruns are refused."""
        written = {"requests": 0, "queued": 0, "notices": 0, "lifts": 0}
        for request in plan.requests:
            written["requests"] += insert_new(conn, action_requests, request.row(), "request_id")
        for entry in plan.log:
            insert_log(conn, entry)
        for item in plan.outgoing:
            written["queued"] += enqueue_in(conn, item, now)
        for n in plan.notifications:
            written["notices"] += enqueue_notification(conn, n, now)
        for request, why in plan.lift_now:
            written["lifts"] += self._lift_now(conn, request, why, "policy", "resolved", now)
        return written

    # --- decisions ----------------------------------------------------------------------------------------

    def decide(self, request_id: str, decision: str, actor: str, reason: str, now: datetime) -> Decision:
        """Approve or reject a request waiting for approval; an approval queues its webhook (and lift)
        and edits the Slack proposal, all in one transaction with the audit entry."""
        if decision not in DECISIONS:
            raise ActionError(f"decision must be approve or reject, not {decision!r}")
        if not reason.strip():
            raise ActionError("a decision needs a reason (--reason): it goes into the audit")
        outcome, moment = DECISIONS[decision], utc_naive(now)
        if self._expire(request_id, moment):
            request = self.get(request_id)
            raise ActionError(
                f"{request_id} expired at {request.approval_deadline:%Y-%m-%d %H:%M} UTC without a decision; "
                "nothing was sent"
            )
        with self.locked() as conn:
            request = self._waiting(conn, request_id)
            values = {"decided_at": moment, "decided_by": actor, "decision_reason": reason}
            if outcome == "approved":
                values.update(request.effective(moment))
            else:
                values["state"] = "rejected"
            self._transition(conn, request, "awaiting_approval", values)
            request = replace(request, **values)
            webhook = request.request_id if outcome == "approved" else ""
            detail = f"{outcome} by {actor}: {reason}"
            insert_log(conn, decision_entry(request, outcome, actor, detail, moment, webhook_id=webhook))
            queued = 0
            if outcome == "approved":
                queued = sum(enqueue_in(conn, item, moment) for item in outgoing_request(request))
            self._notify(conn, request, notices.decided(request, outcome, actor, reason, moment), moment)
        return Decision(request, outcome, queued)

    def expire_overdue(self, now: datetime) -> list[ActionRequest]:
        """Requests whose approval deadline passed without a decision: expired, logged, proposal edited."""
        return self._expire(None, utc_naive(now))

    def _expire(self, request_id: str | None, moment: datetime) -> list[ActionRequest]:
        """Expire the overdue waiting requests (all, or the one named)."""
        where = [action_requests.c.state == "awaiting_approval"]
        if request_id is not None:
            where.append(action_requests.c.request_id == request_id)
        expired = []
        with self.locked() as conn:
            overdue = [
                r for r in _requests(conn, *where)
                if r.approval_deadline is not None and utc_naive(r.approval_deadline) <= moment
            ]  # fmt: skip
            for request in overdue:
                values = {"state": "expired", "decided_at": moment, "decided_by": "bucketlens",
                          "decision_reason": "not approved before the deadline"}  # fmt: skip
                self._transition(conn, request, "awaiting_approval", values)
                request = replace(request, **values)
                detail = f"expired: not approved by {request.approval_deadline:%Y-%m-%d %H:%M} UTC"
                insert_log(conn, decision_entry(request, "expired", "bucketlens", detail, moment))
                why = "nobody approved or rejected it before the deadline"
                self._notify(conn, request, notices.decided(request, "expired", "", why, moment), moment)
                expired.append(request)
        return expired

    def lift(self, request_id: str, actor: str, reason: str, now: datetime) -> bool:
        """An operator ends a limit early: its lift is sent now (False: nothing was in effect to lift)."""
        if not reason.strip():
            raise ActionError("a lift needs a reason (--reason): it goes into the audit")
        with self.locked() as conn:
            request = self._get(conn, request_id)
            if request.state != "requested":
                raise ActionError(f"{request_id} is {request.state}: only a requested action can be lifted")
            return self._lift_now(conn, request, reason, actor, "operator", utc_naive(now)) > 0

    def _lift_now(
        self, conn: sa.Connection, request: ActionRequest, why: str, actor: str, kind: str, now: datetime
    ) -> int:
        """Make the request's lift due now: a scheduled lift never tried is brought forward (its body says
        why); without one, a lift is queued. A lift already sent or tried is left as it is."""
        identity = lift_id(request.request_id)
        body = webhook_body(request, LIFTED, now, request.expires_at, kind)
        t = action_outbox
        # a lift never tried is brought forward, never pushed later (planning the resolution again changes nothing)
        untried = sa.and_(
            t.c.identity == identity,
            t.c.state == "pending",
            t.c.attempts == 0,
            t.c.uncertain_since.is_(None),
            t.c.next_attempt_at > now,
        )
        moved = conn.execute(t.update().where(untried).values(next_attempt_at=now, payload=body)).rowcount
        if not moved:
            item = Outgoing(identity, request.request_id, WEBHOOK, LIFTED, request.user_id, request.usage_date,
                            body, now, after_identity=request.request_id)  # fmt: skip
            moved = int(enqueue_in(conn, item, now))
        if moved:
            insert_log(conn, decision_entry(request, "lift_scheduled", actor, f"lift now: {why}", now, key=kind,
                                            webhook_id=identity))  # fmt: skip
        return moved

    def _waiting(self, conn: sa.Connection, request_id: str) -> ActionRequest:
        request = self._get(conn, request_id)
        if request.state != "awaiting_approval":
            by = f" by {request.decided_by}" if request.decided_by else ""
            when = f" at {request.decided_at:%Y-%m-%d %H:%M} UTC" if request.decided_at else ""
            raise ActionError(f"{request_id} is {request.state}{by}{when}; only a waiting request is decided")
        return request

    def _get(self, conn: sa.Connection, request_id: str) -> ActionRequest:
        found = _requests(conn, action_requests.c.request_id == request_id)
        if not found:
            raise ActionError(f"no action request {request_id!r} (`bucketlens actions list` shows them)")
        return found[0]

    def _transition(self, conn: sa.Connection, request: ActionRequest, expected: str, values: dict) -> None:
        t = action_requests
        stmt = t.update().where(t.c.request_id == request.request_id, t.c.state == expected).values(**values)
        if conn.execute(stmt).rowcount != 1:
            raise ActionError(
                f"{request.request_id} changed meanwhile; look again with `bucketlens actions list`"
            )

    def _notify(self, conn: sa.Connection, request: ActionRequest, n: Notification, now: datetime) -> None:
        if request.channel:
            enqueue_notification(conn, n, now)

    # --- reading --------------------------------------------------------------------------------------------

    def get(self, request_id: str) -> ActionRequest:
        with self._engine.connect() as conn:
            return self._get(conn, request_id)

    def requests(self, state: str | None = None, limit: int | None = None) -> list[ActionRequest]:
        """Requests newest first (of one state)."""
        where = [action_requests.c.state == state] if state else []
        with self._engine.connect() as conn:
            return _requests(conn, *where, newest_first=True, limit=limit)

    def log_of(self, request_id: str) -> list[LogEntry]:
        query = sa.select(action_log).where(action_log.c.request_id == request_id).order_by(action_log.c.at)
        with self._engine.connect() as conn:
            return [LogEntry(**r._mapping) for r in conn.execute(query).all()]

    def log_entries(self) -> list[LogEntry]:
        query = sa.select(action_log).order_by(action_log.c.at, action_log.c.id)
        with self._engine.connect() as conn:
            return [LogEntry(**r._mapping) for r in conn.execute(query).all()]

    def add_log(self, entry: LogEntry) -> None:
        with self._engine.begin() as conn:
            insert_log(conn, entry)

    # --- endpoints ------------------------------------------------------------------------------------------

    def disabled_endpoint(self, url: str) -> str | None:
        """Why ``url`` is disabled (it answered 410 Gone), or None."""
        query = sa.select(action_endpoints.c.reason).where(
            action_endpoints.c.endpoint_hash == endpoint_hash(url)
        )
        with self._engine.connect() as conn:
            found = conn.execute(query).scalars().all()
        return found[0] if found else None

    def disable_endpoint(self, conn: sa.Connection, url: str, reason: str, now: datetime) -> bool:
        """Mark ``url`` disabled inside the caller's transaction; True when it was not already."""
        row = {"endpoint_hash": endpoint_hash(url), "endpoint": endpoint_shown(url),
               "disabled_at": utc_naive(now), "reason": reason}  # fmt: skip
        return insert_new(conn, action_endpoints, row, "endpoint_hash")

    def enable_endpoints(self) -> list[str]:
        """Every disabled endpoint enabled again; the endpoints (as shown) that were."""
        with self._engine.begin() as conn:
            shown = conn.execute(sa.select(action_endpoints.c.endpoint)).scalars().all()
            conn.execute(action_endpoints.delete())
        return list(shown)


def _requests(
    conn: sa.Connection, *where, newest_first: bool = False, limit: int | None = None
) -> list[ActionRequest]:
    t = action_requests
    order = (t.c.created_at.desc(), t.c.request_id) if newest_first else (t.c.created_at, t.c.request_id)
    query = sa.select(t).where(*where).order_by(*order)
    if limit:
        query = query.limit(limit)
    return [ActionRequest(**r._mapping) for r in conn.execute(query).all()]
