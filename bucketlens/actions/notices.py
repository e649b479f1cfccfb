"""What Slack is told about response actions: proposals to approve, actions taken, decisions, and
bucketlens's own trouble sending them (an endpoint gone, a webhook dead).

These are ordinary notifications of the alert outbox (kind ``action`` or ``meta``), so Slack delivery's
guarantees hold for them too. A proposal says what is proposed, why, and exactly how to approve or
reject it (the command, or the Dagster job); the decision edits the proposal (``chat.update``) so the
channel shows who decided what.
"""

from __future__ import annotations

from datetime import datetime

from bucketlens.actions.model import ActionRequest, digest, iso
from bucketlens.actions.policies import duration_text
from bucketlens.alerts.notification import Notification

APPROVE_JOB = "actions_approve"
REJECT_JOB = "actions_reject"
VERBS = {
    "throttle": "throttle the API requests of",
    "block_uploads": "block uploads of",
    "notify_user": "notify",
    "review": "open a manual review of",
}


def what(request: ActionRequest) -> str:
    """``block uploads of user 1042 for 1d``."""
    span = f" for {duration_text(request.duration_seconds)}" if request.duration_seconds else ""
    return f"{VERBS[request.action]} user {request.user_id}{span}"


def proposal_identity(request: ActionRequest) -> str:
    return f"action:{request.request_id}"


def _about(
    request: ActionRequest, title: str, text: str, created_at: str, identity: str = "", edit_of: str = ""
) -> Notification:
    """A message about ``request`` in its channel at its severity, under the proposal's identity unless
    another is given. Why: the proposal, the auto-mode notice and the decision speak of one request
    alike; only what they say differs."""
    return Notification(
        identity=identity or proposal_identity(request),
        kind="action",
        channel=request.channel,
        severity=request.severity,
        title=title,
        group_key="",
        text=text,
        edit_of=edit_of,
        created_at=created_at,
    )


def proposal(request: ActionRequest, deadline: datetime) -> Notification:
    """An approve-mode request, waiting: what, why, and how to approve or reject it."""
    rid = request.request_id
    text = (
        f"Proposed: {what(request)} (policy {request.policy}, alert {request.alert_key} on the data of "
        f"{request.usage_date}).\nWhy: {request.reason}\n"
        f'Approve: `bucketlens actions approve {rid} --reason "…"`\n'
        f'Reject: `bucketlens actions reject {rid} --reason "…"`\n'
        f"Or in Dagster: launch the job {APPROVE_JOB} (or {REJECT_JOB}) with config "
        f"request_id: {rid}, reason, approver.\n"
        f"Nothing is sent until then; the proposal expires at {iso(deadline)}."
    )
    return _about(
        request, f"Approval needed: {what(request)} ({request.rule})", text, iso(request.created_at) or ""
    )


def taken(request: ActionRequest) -> Notification:
    """An auto-mode limit on a user: on-call should know bucketlens acted."""
    text = (
        f"bucketlens asked the service to {what(request)} (policy {request.policy}, webhook-id "
        f"{request.request_id}).\nWhy: {request.reason}\n"
        f'To end it early: `bucketlens actions lift {request.request_id} --reason "…"`'
    )
    return _about(
        request, f"Requested: {what(request)} ({request.rule}, auto)", text, iso(request.created_at) or ""
    )


def decided(request: ActionRequest, outcome: str, actor: str, reason: str, at: datetime) -> Notification:
    """The proposal's message edited to its outcome (approved, rejected, expired)."""
    titles = {"approved": "Approved", "rejected": "Rejected", "expired": "Expired unapproved"}
    by = f" by {actor}" if outcome != "expired" else ""
    sent = f" Sent as webhook-id {request.request_id}." if outcome == "approved" else " Nothing was sent."
    return _about(
        request,
        f"{titles[outcome]}: {what(request)} ({request.rule})",
        f"{titles[outcome]}{by} at {iso(at)}: {reason}.{sent}",
        iso(at) or "",
        identity=f"action:{request.request_id}:{outcome}",
        edit_of=proposal_identity(request),
    )


def endpoint_disabled(endpoint: str, waiting: int, channel: str, at: datetime) -> Notification:
    """The receiving service answered 410 Gone: nothing more goes there until an operator says so."""
    return Notification(
        identity=f"actions_endpoint_gone:{digest(endpoint, iso(at))[:24]}",
        kind="meta",
        channel=channel,
        severity="critical",
        title="The response-action endpoint answered 410 Gone: actions are held",
        group_key="",
        text=(
            f"{endpoint} answered 410 Gone, so bucketlens stopped sending actions there; {waiting} "
            "webhook(s) are held as dead, none lost. Once the endpoint is right (BUCKETLENS_ACTIONS_URL or "
            "actions.endpoint), run `bucketlens actions enable-endpoint` and `bucketlens actions retry-dead`."
        ),
        created_at=iso(at) or "",
    )


def delivery_dead(
    identity: str, kind: str, target: str, attempts: int, error: str, channel: str
) -> Notification:
    """A webhook or email given up after its attempts: kept, and the operator told once."""
    return Notification(
        identity=f"dead:{identity}",
        kind="meta",
        channel=channel,
        severity="warning",
        title=f"A response-action {kind} could not be delivered",
        group_key="",
        text=(
            f"The {kind} {identity} to {target or 'its target'} was given up after {attempts} attempt"
            f"{'s' if attempts != 1 else ''}: {error}. It is kept: `bucketlens actions retry-dead` sends it "
            "again under the same id."
        ),
    )
