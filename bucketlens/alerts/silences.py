"""Silences: an operator mutes matching alerts until an expiry, with a reason and a name on record.

A silenced alert is still evaluated and stored (the warehouse keeps the truth); it is only not
notified. Matchers follow Alertmanager: ``label=value``, ``label!=value``, ``label=~regex``,
``label!~regex`` (regexes match the whole value); an alert is silenced when every matcher holds. Labels
are the alert's own labels plus ``rule``, ``severity``, ``subject`` and ``alert_key``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bucketlens.alerts.alert_db import engine_for, silences, utc_naive

MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)(.*)$")


class SilenceError(ValueError):
    """A silence that cannot be created or found; the message says which part is wrong."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str  # = != =~ !~
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        match = MATCHER.match(text)
        if not match:
            raise SilenceError(
                f"matcher {text!r}: expected label=value, label!=value, label=~regex or label!~regex"
            )
        label, op, value = match.group(1), match.group(2), match.group(3).strip()
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise SilenceError(f"matcher {text!r}: bad regex: {exc}") from exc
        return cls(label, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = str(labels.get(self.label, ""))
        if self.op in ("=", "!="):
            return (actual == self.value) == (self.op == "=")
        return bool(re.fullmatch(self.value, actual)) == (self.op == "=~")

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    reason: str
    created_by: str
    created_at: datetime
    expires_at: datetime

    def active(self, now: datetime) -> bool:
        return self.created_at <= utc_naive(now) < self.expires_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)


def silenced_by(silences_: list[Silence], labels: Mapping[str, str], now: datetime) -> Silence | None:
    """The first active silence muting an alert with ``labels``, if any."""
    return next((s for s in silences_ if s.active(now) and s.matches(labels)), None)


def add_silence(
    url: str,
    matchers: list[str],
    reason: str,
    created_by: str,
    expires_at: datetime,
    now: datetime | None = None,
) -> str:
    """Store a silence; returns its id (for ``bucketlens silence expire``)."""
    parsed = [Matcher.parse(m) for m in matchers]
    if not parsed:
        raise SilenceError("a silence needs at least one matcher (label=value)")
    if not reason.strip() or not created_by.strip():
        raise SilenceError("a silence needs a reason and who created it")
    created, expires = utc_naive(now), utc_naive(expires_at)
    if expires <= created:
        raise SilenceError(f"expiry {expires:%Y-%m-%d %H:%M} UTC is not in the future")
    silence_id = uuid.uuid4().hex[:12]
    row = {"id": silence_id, "matchers": json.dumps([str(m) for m in parsed]), "reason": reason}
    row |= {"created_by": created_by, "created_at": created, "expires_at": expires}
    with engine_for(url) as engine, engine.begin() as c:
        c.execute(sa.insert(silences).values(**row))
    return silence_id


def list_silences(url: str, include_expired: bool = False, now: datetime | None = None) -> list[Silence]:
    """Silences still in force (or all of them), soonest expiry first."""
    query = sa.select(silences).order_by(silences.c.expires_at, silences.c.id)
    if not include_expired:
        query = query.where(silences.c.expires_at > utc_naive(now))
    with engine_for(url) as engine, engine.connect() as c:
        rows = c.execute(query).mappings().all()
    return [
        Silence(
            r["id"],
            tuple(Matcher.parse(m) for m in json.loads(r["matchers"])),
            r["reason"],
            r["created_by"],
            r["created_at"],
            r["expires_at"],
        )
        for r in rows
    ]


def expire_silence(url: str, silence_id: str, now: datetime | None = None) -> None:
    """End a silence now; the alerts it muted are notified from the next evaluation on."""
    moment = utc_naive(now)
    with engine_for(url) as engine, engine.begin() as c:
        found = c.execute(sa.select(silences.c.expires_at).where(silences.c.id == silence_id)).first()
        if found is None:
            raise SilenceError(f"no silence with id {silence_id!r}")
        if found[0] > moment:
            c.execute(sa.update(silences).where(silences.c.id == silence_id).values(expires_at=moment))
