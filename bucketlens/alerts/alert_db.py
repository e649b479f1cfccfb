"""The alert engine's own tables (``alert_*``) in the outbox's database: notify log, groups, held alerts,
silences.

They live beside the outbox (SQLite by default, PostgreSQL by URL; never DuckDB) because the delivery
sensor reads them on every tick while assets hold DuckDB's single writer. Times are naive UTC, as in the
outbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa

SQLITE_BUSY_TIMEOUT_MS = 30_000

metadata = sa.MetaData()

notify_log = sa.Table(
    "alert_notify_log",  # every notification the engine planned, by identity
    metadata,
    sa.Column("identity", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("group_key", sa.String(512), nullable=False),
    sa.Column("rule", sa.String(256), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(256), nullable=False),
    sa.Column("members", sa.Text, nullable=False),  # JSON list of alert keys
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("alert_notify_log_recent", "kind", "created_at"),
)

groups = sa.Table(
    "alert_groups",  # where each alert group stands: what was last said about it, and when
    metadata,
    sa.Column("group_key", sa.String(512), primary_key=True),
    sa.Column("rule", sa.String(256), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # firing | resolved
    sa.Column("members", sa.Text, nullable=False),
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("first_identity", sa.String(128), nullable=False),
    sa.Column("last_identity", sa.String(128), nullable=False),
    sa.Column("first_notified_at", sa.DateTime, nullable=False),
    sa.Column("last_notified_at", sa.DateTime, nullable=False),
    sa.Column("escalated", sa.Boolean, nullable=False),
    sa.Column("suppressed", sa.Boolean, nullable=False),
)

held = sa.Table(
    "alert_held",  # firing members of a notified group waiting for its group_interval
    metadata,
    sa.Column("group_key", sa.String(512), primary_key=True),
    sa.Column("alert_key", sa.String(64), primary_key=True),
    sa.Column("summary", sa.Text, nullable=False),  # AlertSummary as JSON
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False),
)

silences = sa.Table(
    "alert_silences",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("matchers", sa.Text, nullable=False),  # JSON list of "label=value" / "label=~regex"
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


def utc_naive(moment: datetime | None = None) -> datetime:
    """``moment`` (default now) as naive UTC; a naive input is taken as UTC already."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def open_engine(url: str) -> sa.Engine:
    """An engine on ``url`` with the ``alert_*`` tables created; nothing connects before this call."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
    except sa.exc.OperationalError:  # another process created them between check and create
        metadata.create_all(engine)
    return engine


@contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    """``open_engine`` for one short use (a CLI command): disposed afterwards."""
    engine = open_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
