"""Which response actions and emails the day's alerts call for, decided in pure Python.

Input: the stored alerts of a window (``alerts.alert_events``), the ``actions`` section, and a snapshot
of what was decided before; output: a ``Plan`` (requests, audit entries, webhooks and emails to queue,
Slack notices, lifts due now). ``ActionStore.planning`` applies it inside the action planners' lock.

The rules, in order, for each firing alert of a rule with a policy:

1. one request per policy, user and alert **episode** (the firing streak, named by its first day): the
   same alert firing for five days is one request, and a rerun plans the same id, which is refused;
2. an alert about data older than ``max_data_age`` (a backfill) is logged as ``skipped``, never acted on;
3. a new episode within the policy's ``cooldown`` of the last one acted on for the same user is logged
   as ``skipped`` — a flapping alert does not act on a user twice;
4. otherwise the mode decides: ``dry_run`` logs what would be sent; ``approve`` waits for a human, with a
   Slack proposal saying how to approve; ``auto`` queues the signed webhook now, and its lift for when
   the duration ends.

A resolved alert pulls the lift of a ``lift_on_resolve`` policy forward to now. Emails: a user notice per
user, rule and episode (so at most one per user, rule and day), and one email per new alert to the
operators of its severity.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from bucketlens.actions import notices
from bucketlens.actions.model import (
    ActionRequest,
    LogEntry,
    decision_entry,
    digest,
    entry_id,
    lift_id,
    request_id,
    webhook_body,
)
from bucketlens.actions.outbox import EMAIL, LIFTED, OPERATOR_ALERT, REQUESTED, USER_NOTICE, WEBHOOK, Outgoing
from bucketlens.actions.policies import USER_LABEL, ActionsSection, Policy, duration_text
from bucketlens.alerts.notification import Notification
from bucketlens.alerts.state import AlertRow
from bucketlens.leased_queue import utc_naive

POLICY_ACTOR = "policy"


@dataclass
class Snapshot:
    """What the store holds that planning reads: earlier requests, and each (user, rule, action)'s last
    episode acted on (or proposed, or dry-run), for the cooldown."""

    requests: dict[str, ActionRequest] = field(default_factory=dict)
    last_episode: dict[tuple[str, str, str], str] = field(default_factory=dict)


@dataclass
class Plan:
    requests: list[ActionRequest] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    lift_now: list[tuple[ActionRequest, str]] = field(default_factory=list)  # (request, why)
    counts: Counter = field(default_factory=Counter)


def outgoing_request(request: ActionRequest) -> list[Outgoing]:
    """The webhook of a request that takes effect now, and its lift when the policy has a duration."""
    assert request.effective_at is not None
    body = webhook_body(request, REQUESTED, request.effective_at, request.expires_at)
    out = [
        Outgoing(request.request_id, request.request_id, WEBHOOK, REQUESTED, request.user_id,
                 request.usage_date, body, request.effective_at)
    ]  # fmt: skip
    if request.expires_at is not None:
        lift = webhook_body(request, LIFTED, request.expires_at, request.expires_at, "duration")
        out.append(
            Outgoing(lift_id(request.request_id), request.request_id, WEBHOOK, LIFTED, request.user_id,
                     request.usage_date, lift, request.expires_at, after_identity=request.request_id)
        )  # fmt: skip
    return out


def _episode_gap(a: str, b: str) -> int:
    return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) * 86400


@dataclass
class _Run:
    actions: ActionsSection
    channels: dict[str, str]
    snapshot: Snapshot
    now: datetime
    plan: Plan = field(default_factory=Plan)

    def __post_init__(self) -> None:
        self.requests = dict(self.snapshot.requests)
        self.last = dict(self.snapshot.last_episode)
        self.oldest = (self.now - timedelta(seconds=self.actions.max_data_age)).date()
        self.emails: set[str] = set()  # planned in this run (an earlier run's are refused by the outbox)

    def stale(self, alert: AlertRow) -> bool:
        return alert.usage_date < self.oldest

    def act(self, policy: Policy, alert: AlertRow, user: str) -> None:
        episode = alert.first_seen.isoformat()
        rid = request_id(policy.rule, policy.action, user, alert.alert_key, episode)
        if rid in self.requests:
            return  # the same episode: decided before (or earlier in this window)
        request = ActionRequest(
            request_id=rid, rule=policy.rule, action=policy.action, mode=policy.mode, user_id=user,
            alert_key=alert.alert_key, episode=episode, usage_date=alert.usage_date.isoformat(),
            severity=alert.severity, reason=alert.reason or alert.subject, evidence=alert.evidence or "",
            duration_seconds=policy.duration, lift_on_resolve=policy.lift_on_resolve, state="",
            created_at=self.now, channel=self.channels.get(alert.severity, ""),
        )  # fmt: skip
        key = (user, policy.rule, policy.action)
        previous = self.last.get(key)
        if self.stale(alert):
            age = duration_text(self.actions.max_data_age)
            request = self._skip(request, f"data of {request.usage_date} is older than max_data_age {age}")
        elif previous is not None and _episode_gap(episode, previous) < policy.cooldown:
            request = self._skip(
                request, f"cooldown {duration_text(policy.cooldown)}: the episode of {previous} was acted on"
            )
        elif policy.mode == "dry_run":
            request = self._decide(request, "dry_run", "dry run: logged, never sent")
        elif policy.mode == "approve":
            deadline = self.now + timedelta(seconds=self.actions.approval_timeout)
            request = replace(self._decide(request, "awaiting_approval", "waits for approval"),
                              approval_deadline=deadline)  # fmt: skip
            self.plan.notifications.append(notices.proposal(request, deadline))
        else:
            request = replace(request, **request.effective(self.now))
            request = self._decide(request, "requested", "auto: sent without approval", webhook=True)
            self.plan.outgoing.extend(outgoing_request(request))
            if request.action != "notify_user":
                self.plan.notifications.append(notices.taken(request))
        if request.state != "skipped":
            self.last[key] = max(self.last.get(key, episode), episode)
        self.requests[rid] = request
        self.plan.requests.append(request)
        self.plan.counts[request.state] += 1

    def _decide(
        self, request: ActionRequest, state: str, detail: str, webhook: bool = False
    ) -> ActionRequest:
        request = replace(request, state=state, decided_at=self.now if state != "awaiting_approval" else None,
                          decided_by=POLICY_ACTOR if state != "awaiting_approval" else "",
                          decision_reason=detail if state != "awaiting_approval" else "")  # fmt: skip
        self.plan.log.append(
            decision_entry(request, "decided", POLICY_ACTOR, f"{state}: {detail}", self.now,
                           webhook_id=request.request_id if webhook else "")
        )  # fmt: skip
        return request

    def _skip(self, request: ActionRequest, why: str) -> ActionRequest:
        return self._decide(request, "skipped", why)

    def resolved(self, policy: Policy, alert: AlertRow, user: str) -> None:
        rid = request_id(policy.rule, policy.action, user, alert.alert_key, alert.first_seen.isoformat())
        request = self.requests.get(rid)
        if request is not None and request.state == "requested" and policy.lift_on_resolve:
            self.plan.lift_now.append((request, f"the alert resolved on the data of {alert.usage_date}"))

    def email_user(self, notice: str, alert: AlertRow, user: str) -> None:
        identity = "mail_" + digest("user", alert.rule, user, alert.first_seen)[:24]
        payload = {
            "notice": notice, "user_id": user, "rule": alert.rule, "usage_date": alert.usage_date.isoformat(),
            "reason": alert.reason or alert.subject, "value": alert.value, "threshold": alert.threshold,
        }  # fmt: skip
        self._email(identity, USER_NOTICE, user, alert, payload, f"{alert.rule}/email")

    def email_operators(self, addresses: tuple[str, ...], alert: AlertRow) -> None:
        identity = "opmail_" + digest("operators", alert.alert_key, alert.first_seen, alert.severity)[:24]
        payload = {
            "to": list(addresses), "rule": alert.rule, "severity": alert.severity, "subject": alert.subject,
            "usage_date": alert.usage_date.isoformat(), "reason": alert.reason or alert.subject,
            "value": alert.value, "threshold": alert.threshold, "evidence_query": alert.evidence_query,
        }  # fmt: skip
        self._email(
            identity,
            OPERATOR_ALERT,
            alert.labels.get(USER_LABEL) or "",
            alert,
            payload,
            f"{alert.rule}/operators",
        )

    def _email(
        self, identity: str, kind: str, user: str, alert: AlertRow, payload: dict, policy: str
    ) -> None:
        if identity in self.emails:
            return  # the same episode on a later day of the window
        self.emails.add(identity)
        mode = self.actions.email.mode
        day = alert.usage_date.isoformat()
        if self.stale(alert):
            event, detail = "email_skipped", f"data of {day} is older than max_data_age"
        elif mode == "dry_run":
            event, detail = "email_dry_run", f"{payload.get('notice', 'operator alert')}: logged, never sent"
        else:
            event, detail = "email_queued", payload.get("notice", "operator alert")
            item = Outgoing(
                identity, "", EMAIL, kind, user, day, json.dumps(payload, sort_keys=True), self.now
            )
            self.plan.outgoing.append(item)
        entry = LogEntry(entry_id(identity, event), utc_naive(self.now), "", day, user, event, POLICY_ACTOR,
                         policy, mode, detail, webhook_id=identity)  # fmt: skip
        self.plan.log.append(entry)
        self.plan.counts[event] += 1


def plan_actions(
    alerts: list[AlertRow],
    actions: ActionsSection,
    channels: dict[str, str],
    snapshot: Snapshot,
    now: datetime,
) -> Plan:
    """The plan for the stored alerts of one or more days, oldest day first (``now`` decides staleness,
    approval deadlines and when an auto request takes effect)."""
    run = _Run(actions, channels, snapshot, utc_naive(now))
    notices_by_rule = actions.email.user_notices
    operators = actions.email.operators
    for alert in sorted(alerts, key=lambda a: (a.usage_date, a.rule, a.alert_key)):
        user = alert.labels.get(USER_LABEL)
        firing = alert.state == "firing"
        if firing and alert.severity in operators:
            run.email_operators(operators[alert.severity], alert)
        if not user:
            continue
        for policy in actions.policies_for(alert.rule):
            if firing:
                run.act(policy, alert, str(user))
            elif alert.state == "resolved":
                run.resolved(policy, alert, str(user))
        if firing and alert.rule in notices_by_rule:
            run.email_user(notices_by_rule[alert.rule], alert, str(user))
    return run.plan
