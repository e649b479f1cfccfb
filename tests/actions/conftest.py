"""Fixtures for response actions: a signing secret, a test clock, the strict webhook receiver, an SMTP
server, an action store per test, and alert rows / policies as the planner sees them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bucketlens.actions.policies import ActionsSection
from bucketlens.actions.store import ActionStore
from bucketlens.alerts.state import AlertRow
from tests.actions.receiver import WebhookReceiver
from tests.actions.smtp_server import SmtpServer
from tests.alerts.conftest import Clock

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
START = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
DAY = date(2026, 11, 11)
CHANNELS = {"critical": "#storage-critical", "warning": "#storage-alerts", "info": "#storage-info"}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def receiver(clock: Clock) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET, clock.epoch) as r:
        yield r


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outbox.sqlite'}"


@pytest.fixture
def store(store_url: str) -> Iterator[ActionStore]:
    s = ActionStore(store_url)
    yield s
    s.dispose()


def section(**values) -> ActionsSection:
    """An ``actions`` section as the rules file would write it (durations as text)."""
    return ActionsSection.model_validate(values)


def alert(
    user: str = "1042",
    rule: str = "rapid_upload",
    day: date = DAY,
    first_seen: date | None = None,
    state: str = "firing",
    severity: str = "critical",
    key: str | None = None,
) -> AlertRow:
    """An alert row of ``alerts.alert_events`` about one user."""
    return AlertRow(
        usage_date=day,
        alert_key=key or f"k{rule[:6]}{user}",
        rule=rule,
        severity=severity,
        subject=f"user {user}",
        state=state,
        first_seen=first_seen or day,
        last_seen=day,
        value=110 * 2**30,
        threshold=100 * 2**30,
        labels={"user_id": user},
        reason=f"uploaded 110.0 GB within one hour (threshold 100.0 GB) <user {user}>",
        evidence=json.dumps({"bytes_in_hour": 110 * 2**30, "top_request_ids": ["R1", "R2"]}),
        evidence_query="SELECT * FROM anomaly.abuse_flags WHERE user_id = '<user>'",
        asset="abuse_flags",
    )
