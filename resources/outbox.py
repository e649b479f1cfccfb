"""The alert outbox database (design §4, §8): SQLite by default, PostgreSQL by URL — never DuckDB, so the
delivery sensor never contends with assets for DuckDB's single writer."""

from __future__ import annotations

import dagster as dg

from bucketlens.alerts.outbox import Outbox


class AlertOutbox(dg.ConfigurableResource):
    url: str  # SQLAlchemy URL, e.g. sqlite:///$BUCKETLENS_HOME/alerts.sqlite
    max_attempts: int = 8  # after this many failed sends a notification is dead (and a meta notice goes out)

    def open(self) -> Outbox:
        """A connection to the outbox, tables created on first use; nothing connects at import time."""
        return Outbox(self.url, max_attempts=self.max_attempts)
