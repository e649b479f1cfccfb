"""The alert database's schema, in one place: the outbox (``outbox_notifications``) and the alert engine's
own tables (``alert_*``: notify log, groups, held alerts, silences).

They live together (SQLite by default, PostgreSQL by URL; never DuckDB) because the delivery sensor reads
them on every tick while assets hold DuckDB's single writer, and because planning writes the outbox and
the notify log in one transaction (``planning_lock``). Times are naive UTC.

Column lengths: PostgreSQL enforces ``VARCHAR(n)``, SQLite does not, so a length that data can exceed
works on SQLite and fails in production. Every text whose length comes from data or configuration
(identities, group keys, rule names, channels, who created a silence) is ``Text``; ``String(n)`` is kept
only for values this code makes with a known size (kinds, severities, states, ISO dates, hashes, Slack
ids). Group keys, which are primary keys, are bounded where they are made (``grouping.group_key``) so an
index entry always fits PostgreSQL's b-tree limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bucketlens.leased_queue import utc_naive  # noqa: F401 (the alert modules take it from here)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key serializing the alert planners (any constant unique to this use will do).
PLANNING_LOCK_KEY = 0x6275636B6C656E73  # "bucklens" in ASCII
SUPPORTED_DIALECTS = ("sqlite", "postgresql")

metadata = sa.MetaData()

notifications = sa.Table(
    "outbox_notifications",  # every notification to send, pending → sending → sent / dead
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identity", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("slack_channel_id", sa.String(64), nullable=False, default=""),
    sa.Column("slack_ts", sa.String(64), nullable=False, default=""),
    sa.Column("claim_token", sa.String(64)),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("uncertain_since", sa.DateTime),
    sa.Index("outbox_notifications_due", "state", "next_attempt_at"),
)

notify_log = sa.Table(
    "alert_notify_log",  # every notification the engine planned, by identity
    metadata,
    sa.Column("identity", sa.Text, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("group_key", sa.Text, nullable=False),
    sa.Column("rule", sa.Text, nullable=False),  # a rule name, or the group key of a multi-rule message
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("members", sa.Text, nullable=False),  # JSON list of alert keys
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("alert_notify_log_recent", "kind", "created_at"),
)

groups = sa.Table(
    "alert_groups",  # where each alert group stands: what was last said about it, and when
    metadata,
    sa.Column("group_key", sa.Text, primary_key=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # firing | resolved
    sa.Column("members", sa.Text, nullable=False),
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("first_identity", sa.Text, nullable=False),
    sa.Column("last_identity", sa.Text, nullable=False),
    sa.Column("first_notified_at", sa.DateTime, nullable=False),
    sa.Column("last_notified_at", sa.DateTime, nullable=False),
    sa.Column("escalated", sa.Boolean, nullable=False),
    sa.Column("suppressed", sa.Boolean, nullable=False),
)

held = sa.Table(
    "alert_held",  # firing members of a notified group waiting for its group_interval
    metadata,
    sa.Column("group_key", sa.Text, primary_key=True),
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
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)


class AlertDatabaseError(ValueError):
    """The alert database's URL names a database bucketlens cannot serialize planning on."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets a drain read while another writes; busy_timeout makes concurrent writers wait, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def open_engine(url: str, *extra: sa.MetaData) -> sa.Engine:
    """An engine on ``url`` with every alert table created (and the tables of ``extra``, e.g. the
    response actions', which live in the same database); nothing connects before this call."""
    engine = sa.create_engine(url)
    if engine.dialect.name not in SUPPORTED_DIALECTS:
        engine.dispose()
        raise AlertDatabaseError(
            f"BUCKETLENS_OUTBOX_DB: {engine.dialect.name} is not supported; use sqlite:///… or "
            "postgresql+psycopg://…"
        )
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    for tables in (metadata, *extra):
        try:
            tables.create_all(engine)
        except sa.exc.DBAPIError:  # another process created them between check and create (PostgreSQL
            tables.create_all(engine)  # says so as a unique violation on its catalog, SQLite as locked)
    return engine


@contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    """``open_engine`` for one short use (a CLI command): disposed afterwards."""
    engine = open_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def planning_lock(conn: sa.Connection, key: int = PLANNING_LOCK_KEY) -> None:
    """Begin ``conn``'s transaction holding the planners' lock until it commits or rolls back.

    Planners (the ``alert_events`` asset, the delivery tick's release and escalation) read the notify log,
    decide, then rewrite group rows: without one lock around the whole, the last writer wins and two
    planners notify the same new group twice. SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock
    up front (drains' writes wait for it, as they wait for any writer). PostgreSQL: a transaction-scoped
    advisory lock on ``key``, which blocks only other planners of that kind (alerts, or response
    actions); drains' claims go on.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def insert_new(conn: sa.Connection, table: sa.Table, row: dict, key: str) -> bool:
    """Insert ``row`` unless a row with the same ``key`` exists; True when inserted.

    ``ON CONFLICT DO NOTHING`` rather than catching the IntegrityError: a failed statement aborts a
    PostgreSQL transaction, and this runs inside the planners' transaction. ``RETURNING`` says whether a
    row went in (the row count of such an insert is not reported alike by every driver).
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=[key])
    return conn.execute(stmt.returning(table.c[key])).first() is not None
