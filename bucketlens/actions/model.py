"""What a response action is, as stored and as sent: requests, audit entries, ids and webhook bodies.

Every id is a hash of what it is about, never of when it was made, so planning the same alerts twice
(a rerun of a partition, two runs at once) yields the same ids, which the tables refuse the second time:

* a request: ``act_`` + hash(rule, action, user, alert, episode) — one per policy, user and alert
  episode (the alert's firing streak, named by its first day);
* its webhooks: ``webhook-id`` = the request id (``bucketlens.action.requested``) and ``<id>-lift``
  (``bucketlens.action.lifted``) — the same on every retry, the receiver's idempotency key;
* a decision's audit entry: hash(request, event), so a decision is logged once however often planned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from bucketlens.actions.outbox import LIFTED, REQUESTED
from bucketlens.leased_queue import utc_naive

REQUEST_STATES = ("dry_run", "awaiting_approval", "requested", "rejected", "expired", "skipped")
LIFT_SUFFIX = "-lift"
ID_CHARS = 24


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def request_id(rule: str, action: str, user_id: str, alert_key: str, episode: str) -> str:
    return "act_" + digest("request", rule, action, user_id, alert_key, episode)[:ID_CHARS]


def lift_id(request: str) -> str:
    return request + LIFT_SUFFIX


def entry_id(*parts: object) -> str:
    """A deterministic audit id (decisions: once per request and event, however often planned)."""
    return digest("log", *parts)[:40]


def iso(moment: datetime | None) -> str | None:
    """``2026-11-12T17:03:00Z``: UTC to the second with the zone spelled, as the webhook body carries times."""
    if moment is None:
        return None
    return utc_naive(moment).replace(tzinfo=UTC, microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ActionRequest:
    """One row of ``action_requests``: a policy applied to one user for one alert episode."""

    request_id: str
    rule: str
    action: str
    mode: str
    user_id: str
    alert_key: str
    episode: str
    usage_date: str
    severity: str
    reason: str
    evidence: str  # JSON
    duration_seconds: int | None
    lift_on_resolve: bool
    state: str
    created_at: datetime
    approval_deadline: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str = ""
    decision_reason: str = ""
    effective_at: datetime | None = None
    expires_at: datetime | None = None
    channel: str = ""

    @property
    def policy(self) -> str:
        return f"{self.rule}/{self.action}"

    def row(self) -> dict:
        return asdict(self)

    def effective(self, at: datetime) -> dict:
        """The columns that change when the request is sent (auto, or approved) at ``at``."""
        moment = utc_naive(at)
        expires = moment + timedelta(seconds=self.duration_seconds) if self.duration_seconds else None
        return {"state": "requested", "effective_at": moment, "expires_at": expires}


@dataclass(frozen=True)
class LogEntry:
    """One line of the audit (``action_log``)."""

    id: str
    at: datetime
    request_id: str
    usage_date: str
    user_id: str
    event: str
    actor: str
    policy: str
    mode: str
    detail: str
    status_code: int | None = None
    webhook_id: str = ""

    def row(self) -> dict:
        return asdict(self)


def decision_entry(
    request: ActionRequest,
    event: str,
    actor: str,
    detail: str,
    at: datetime,
    key: object = "",
    webhook_id: str = "",
) -> LogEntry:
    """A decision about ``request`` (decided, approved, rejected, expired, lift scheduled…), logged once."""
    return LogEntry(
        id=entry_id(request.request_id, event, key),
        at=utc_naive(at),
        request_id=request.request_id,
        usage_date=request.usage_date,
        user_id=request.user_id,
        event=event,
        actor=actor,
        policy=request.policy,
        mode=request.mode,
        detail=detail,
        webhook_id=webhook_id,
    )


def _evidence(text: str) -> object:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def webhook_body(
    request: ActionRequest, event_type: str, at: datetime, expires_at: datetime | None, lift_reason: str = ""
) -> str:
    """The JSON body: ``{"type", "timestamp", "data": {...}}`` (Standard Webhooks' recommended shape).
    Built once when queued, so every retry sends the same bytes under the same webhook-id."""
    data = {
        "action": request.action,
        "user_id": request.user_id,
        "rule": request.rule,
        "alert_id": request.alert_key,
        "reason": request.reason,
        "expires_at": iso(expires_at),
        "evidence": _evidence(request.evidence),
        "request_id": request.request_id,
        "mode": request.mode,
        "usage_date": request.usage_date,
    }
    if event_type == LIFTED:
        data["lift_reason"] = lift_reason
    elif event_type != REQUESTED:
        raise ValueError(f"not a webhook event type: {event_type!r}")
    return json.dumps({"type": event_type, "timestamp": iso(at), "data": data}, sort_keys=True)
