"""Fixtures for alert delivery: a fake Slack on 127.0.0.1, a controllable clock, an outbox per test,
notification factories. (The crash, storm and concurrency trials report in the fault table:
tests/faults/test_alert_faults.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bucketlens.alerts.delivery import SlackSender
from bucketlens.alerts.notification import AlertSummary, Notification
from bucketlens.alerts.outbox import Outbox
from tests.alerts.fake_slack import FakeSlack

TOKEN = "xoxb-1234-test-SECRET-token"
UI_URL = "http://127.0.0.1:3000"
CHANNELS = {"C0CRITICAL1": "alerts-critical", "C0WARNING01": "alerts-warning", "C0INFO00001": "alerts-info"}
CLIENT_TIMEOUT = 1.0  # seconds: generous on a loaded machine; a "slow" fault answers after 1.5 s
START = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


class Clock:
    """The time delivery and the fake Slack both see, moved by the test (so backoffs cost no real time)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock: Clock) -> Iterator[FakeSlack]:
    calls: list[tuple[str, dict]] = []
    with FakeSlack(TOKEN, CHANNELS, clock=clock.epoch, calls=calls) as fake:
        yield fake


@pytest.fixture
def sender(slack: FakeSlack) -> SlackSender:
    return SlackSender(TOKEN, slack.api_url, timeout=CLIENT_TIMEOUT, ui_url=UI_URL)


@pytest.fixture
def outbox_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outbox.sqlite'}"


@pytest.fixture
def outbox(outbox_url: str) -> Iterator[Outbox]:
    box = Outbox(outbox_url)
    yield box
    box.dispose()


def alert_summary(subject: str = "user 1042", **overrides) -> AlertSummary:
    values = {
        "alert_key": f"k-{subject}",
        "rule": "user_daily_upload_bytes",
        "severity": "warning",
        "subject": subject,
        "state": "firing",
        "usage_date": "2026-10-04",
        "value": 412e9,
        "threshold": 100e9,
        "reason": "uploaded 412 GB, 38× the usual 11 GB/day",
        "labels": {"user_id": "1042"},
        "evidence": ({"key": "users/1042/a.jpg", "bytes": "2000000000"},),
        "evidence_query": "SELECT * FROM raw.access_log_requests WHERE user_id = '1042'",
        "link": "",
    }
    values.update(overrides)
    return AlertSummary(**values)


def notification(identity: str, **overrides) -> Notification:
    values = {
        "identity": identity,
        "kind": "alert",
        "channel": "alerts-warning",
        "severity": "warning",
        "title": f"Large upload ({identity})",
        "group_key": f"g-{identity}",
        "alerts": (alert_summary(),),
        "created_at": START.isoformat(),
    }
    values.update(overrides)
    return Notification(**values)
