"""The response actions' tables, in the alert database (SQLite by default, PostgreSQL by URL; never DuckDB).

They live beside the alert outbox because the delivery sensor and the command line (``bucketlens actions
approve``) read and write them while Dagster runs hold DuckDB's single writer, and because an approval
enqueues its webhook, records the decision and edits the Slack proposal in one transaction. The
``action_requests`` asset mirrors them into the warehouse (``actions.action_requests``,
``actions.action_log``) for reports and the UI.

* ``action_requests``: one row per (policy, user, alert episode) — what was decided and by whom.
* ``action_log``: the audit — every decision, approval, rejection, expiry, attempt (status code,
  webhook-id), lift and email, append-only. Decision entries have deterministic ids, so a rerun of a
  partition never logs a decision twice.
* ``action_outbox``: signed webhooks and emails to send, on the shared leased queue
  (``bucketlens.leased_queue``); a lift waits for its request (``after_identity``).
* ``action_endpoints``: endpoints that answered 410 Gone, disabled until an operator enables them.

Text whose length data decides is ``Text`` (PostgreSQL enforces ``VARCHAR(n)``, SQLite does not).
"""

from __future__ import annotations

import sqlalchemy as sa

from bucketlens.alerts.alert_db import open_engine

# pg_advisory_xact_lock key serializing the action planners (the asset, approvals, expiry); distinct from
# the alert planners' so the two never wait for each other on PostgreSQL
ACTIONS_LOCK_KEY = 0x626C2D616374  # "bl-act"

metadata = sa.MetaData()

action_requests = sa.Table(
    "action_requests",
    metadata,
    sa.Column("request_id", sa.String(40), primary_key=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("alert_key", sa.String(64), nullable=False),
    sa.Column("episode", sa.String(10), nullable=False),  # first day of the alert's firing streak
    sa.Column("usage_date", sa.String(10), nullable=False),  # the day whose data decided it
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),  # JSON
    sa.Column("duration_seconds", sa.Integer),
    sa.Column("lift_on_resolve", sa.Boolean, nullable=False),
    # dry_run | awaiting_approval | requested | rejected | expired | skipped
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("approval_deadline", sa.DateTime),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("decided_by", sa.Text, nullable=False),
    sa.Column("decision_reason", sa.Text, nullable=False),
    sa.Column("effective_at", sa.DateTime),  # when the request was queued (auto, or approved)
    sa.Column("expires_at", sa.DateTime),  # effective_at + duration: the lift is due
    sa.Column("channel", sa.Text, nullable=False),  # Slack channel of the proposal ("" for none)
    sa.Index("action_requests_episode", "user_id", "rule", "action", "episode"),
    sa.Index("action_requests_state", "state"),
)

action_log = sa.Table(
    "action_log",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("request_id", sa.String(40), nullable=False),  # "" for emails, which are not requests
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=False),  # rule/action, or rule/email
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("webhook_id", sa.Text, nullable=False),  # or the email's identity
    sa.Index("action_log_request", "request_id"),
    sa.Index("action_log_at", "at"),
)

action_outbox = sa.Table(
    "action_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("identity", sa.Text, nullable=False, unique=True),  # webhook-id, or the email's identity
    sa.Column("request_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # webhook | email
    sa.Column("event_type", sa.String(48), nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("usage_date", sa.String(10), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the webhook body (fixed across retries), or the email
    sa.Column("after_identity", sa.Text, nullable=False),  # a lift waits until this row is sent
    sa.Column("state", sa.String(16), nullable=False),  # pending | sending | sent | dead | skipped
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.Column("last_status", sa.Integer),
    sa.Column("target", sa.Text, nullable=False),  # where it went: the endpoint (no query), the address
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Column("claim_token", sa.String(64)),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("uncertain_since", sa.DateTime),
    sa.Index("action_outbox_due", "state", "next_attempt_at"),
    sa.Index("action_outbox_request", "request_id"),
)

action_endpoints = sa.Table(
    "action_endpoints",
    metadata,
    sa.Column("endpoint_hash", sa.String(64), primary_key=True),
    sa.Column("endpoint", sa.Text, nullable=False),  # scheme, host and path only (a query may hold a token)
    sa.Column("disabled_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)


def open_action_engine(url: str) -> sa.Engine:
    """An engine on the alert database with the alert and the action tables created."""
    return open_engine(url, metadata)
