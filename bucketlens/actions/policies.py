"""Response-action policies: the ``actions`` section of the rules file.

A policy says what bucketlens asks the service to do about one user when an alert rule fires for them
(``throttle``, ``block_uploads``, ``notify_user``, ``review``), and how much a human is in the loop:
``dry_run`` (the default: decided and logged, never sent), ``approve`` (waits for ``bucketlens actions
approve``) or ``auto``. Acting on a user is the most consequential thing bucketlens does, so the section
is validated like every other (unknown keys, bad durations, a policy naming a rule that does not exist or
has no user to act on) and a mistake fails at load time naming the field — never an action sent to the
wrong place or not at all.

Durations (``duration``, ``cooldown``, ``approval_timeout``, ``max_data_age``) are written "24h", "7d".
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StrictBool, model_validator

from bucketlens.alerts.routing import Column, Duration
from bucketlens.anomaly.rule_types import (
    SEVERITIES,
    PositiveInt,
    RulesModel,
    conflict,
    errors_at,
    invalid,
    listing,
    mapping,
    one_of,
    repeats,
)

ACTIONS = ("throttle", "block_uploads", "notify_user", "review")
LIFTABLE = ("throttle", "block_uploads")  # a limit that ends; a notice or a review does not
MODES = ("dry_run", "approve", "auto")
EMAIL_MODES = ("dry_run", "auto")
NOTICES = ("quota_warning", "quota_exceeded", "unusual_activity")
USER_LABEL = "user_id"  # the alert label naming the user an action is about
EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
URL = re.compile(r"^https?://[^\s]+$")


def _endpoint(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not URL.match(value.strip()):
        raise invalid("must be an http(s):// URL")
    return value.strip()


def _address(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL.match(value.strip()):
        raise invalid("must be an email address like oncall@example.com")
    return value.strip()


def _addresses(value: Any) -> tuple:
    values = value if isinstance(value, list) else [value]
    return tuple(_address(v) for v in values)


Addresses = Annotated[tuple[str, ...], BeforeValidator(_addresses)]


class Policy(RulesModel):
    """What to ask the service to do when ``rule`` fires for a user, and who decides."""

    rule: Column  # an alert rule whose labels include user_id
    action: Annotated[str, BeforeValidator(one_of(ACTIONS))]
    mode: Annotated[str, BeforeValidator(one_of(MODES))] = "dry_run"
    duration: Duration | None = None  # seconds until bucketlens.action.lifted is sent
    lift_on_resolve: StrictBool = False  # lift as soon as the alert resolves
    cooldown: Duration = 7 * 86400  # a new episode of the same user and rule within this is not acted on

    @model_validator(mode="after")
    def _only_limits_are_lifted(self) -> Policy:
        if self.action in LIFTABLE:
            return self
        for name in ("duration", "lift_on_resolve"):
            if getattr(self, name):
                message = f"only {' and '.join(LIFTABLE)} are lifted; {self.action} has nothing to lift"
                raise conflict("Policy", (name,), message)
        return self

    @property
    def key(self) -> str:
        return f"{self.rule}/{self.action}"


class EmailSection(RulesModel):
    """Emails: notices to users about their own account, and alerts to operators besides Slack."""

    mode: Annotated[str, BeforeValidator(one_of(EMAIL_MODES))] = "dry_run"
    # alert rule → notice template; at most one email per user, rule and day
    user_notices: Annotated[
        dict[Column, Annotated[str, BeforeValidator(one_of(NOTICES))]],
        BeforeValidator(
            mapping("must map alert rules to a notice (quota_warning, quota_exceeded, unusual_activity)")
        ),
    ] = Field(default_factory=dict)
    # severity → addresses that receive each new alert of that severity, besides Slack
    operators: Annotated[
        dict[Annotated[str, BeforeValidator(one_of(SEVERITIES))], Addresses],
        BeforeValidator(mapping("must map severities to email addresses")),
    ] = Field(default_factory=dict)


class ActionsSection(RulesModel):
    endpoint: Annotated[str, BeforeValidator(_endpoint)] = ""  # BUCKETLENS_ACTIONS_URL wins when set
    approval_timeout: Duration = 24 * 3600  # an approve-mode request not decided by then expires
    max_data_age: Duration = 14 * 86400  # alerts about older data (a backfill) are logged, not acted on
    max_attempts: PositiveInt = 8  # failed sends before a webhook or email is dead (with a meta-alert)
    policies: Annotated[
        tuple[Policy, ...], BeforeValidator(listing("must be a list of policies", non_empty=False))
    ] = ()
    email: Annotated[EmailSection, BeforeValidator(lambda v: {} if v is None else v)] = EmailSection()

    @model_validator(mode="after")
    def _one_policy_per_rule_and_action(self) -> ActionsSection:
        duplicates = [
            (
                ("policies", i, "action"),
                f"a second {p.action} policy for {p.rule} (also actions.policies[{j}])",
                p.action,
            )
            for i, p, j in repeats(self.policies, lambda p: p.key)
        ]
        if duplicates:
            raise errors_at("actions", *duplicates)
        return self

    def policies_for(self, rule: str) -> tuple[Policy, ...]:
        return tuple(p for p in self.policies if p.rule == rule)

    @property
    def rules(self) -> set[str]:
        """Every alert rule the section acts on (policies and user notices)."""
        return {p.rule for p in self.policies} | set(self.email.user_notices)


def unknown_rules(section: ActionsSection, labels_by_rule: dict[str, tuple[str, ...]]) -> list[tuple]:
    """Errors ``(location, message, value)`` for every rule the section names that is not an alert rule
    with a ``user_id`` label (an action needs a user): checked against the alert rules of the same file."""
    errors: list[tuple] = []

    def check(loc: tuple, rule: str) -> None:
        if rule not in labels_by_rule:
            guess = difflib.get_close_matches(rule, list(labels_by_rule), n=1)
            hint = f" (did you mean {guess[0]}?)" if guess else ""
            errors.append((loc, f"must name an alert rule of alerts.rules{hint}", rule))
        elif USER_LABEL not in labels_by_rule[rule]:
            message = f"alert rule {rule} has no {USER_LABEL} label, so there is no user to act on"
            errors.append((loc, message, rule))

    for i, policy in enumerate(section.policies):
        check(("actions", "policies", i, "rule"), policy.rule)
    for rule in section.email.user_notices:
        check(("actions", "email", "user_notices"), rule)
    return errors


def duration_text(seconds: int) -> str:
    """Seconds as the rules file writes them: "24h", "7d", "90m"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def describe(section: ActionsSection, endpoint: str = "") -> list[str]:
    """``bucketlens rules check`` lines: the policies and where actions would go."""
    where = endpoint or section.endpoint or "no endpoint: the preview file"
    lines = [f"actions: {len(section.policies)} policies → {where}"]
    for p in section.policies:
        extra = []
        if p.duration:
            extra.append(f"lifted after {duration_text(p.duration)}")
        if p.lift_on_resolve:
            extra.append("lifted when the alert resolves")
        lines.append(f"  {p.rule} → {p.action} ({p.mode}{', ' + ', '.join(extra) if extra else ''})")
    e = section.email
    if e.user_notices or e.operators:
        notices = ", ".join(f"{rule}: {notice}" for rule, notice in sorted(e.user_notices.items())) or "none"
        operators = (
            ", ".join(f"{sev} → {len(a)} address(es)" for sev, a in sorted(e.operators.items())) or "none"
        )
        lines.append(f"email ({e.mode}): user notices {notices}; operators {operators}")
    return lines
