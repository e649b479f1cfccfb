"""The alert outbox database (design §4, §8): SQLite by default, PostgreSQL by URL — never DuckDB, so the
delivery sensor never contends with assets for DuckDB's single writer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from bucketlens.alerts.notification import Notification
from bucketlens.alerts.outbox import Outbox


class AlertOutbox(dg.ConfigurableResource):
    url: str  # SQLAlchemy URL, e.g. sqlite:///$BUCKETLENS_HOME/alerts.sqlite
    max_attempts: int = 8  # after this many failed sends a notification is dead (and a meta notice goes out)

    def open(self) -> Outbox:
        """A connection to the outbox, tables created on first use; nothing connects at import time."""
        return Outbox(self.url, max_attempts=self.max_attempts)

    def enqueue_recent(self, posts: Sequence[Notification], max_age_seconds: int) -> int:
        """Put the posts about the last ``max_age_seconds`` (``routing.max_alert_age``; the day is the
        last part of a post's identity) in the outbox, once each; older ones are a backfill, not news.
        How many went in. Why here: every weekly post (cost summary, savings digest) goes out this way."""
        oldest = (datetime.now(UTC) - timedelta(seconds=max_age_seconds)).date().isoformat()
        recent = [p for p in posts if p.identity.rsplit(":", 1)[-1] >= oldest]
        if not recent:
            return 0
        box = self.open()
        try:
            return sum(1 for p in recent if box.enqueue(p))
        finally:
            box.dispose()
