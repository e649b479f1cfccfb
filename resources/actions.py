"""Response actions (design §5 ``actions``): where the signed webhooks go, how emails leave, and the
action tables in the alert database.

Secrets (the webhook secret, an SMTP URL with a password, the database URLs) arrive as ``EnvVar``s when
set, so the UI shows where they come from, never what they are; ``__repr__`` withholds them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from bucketlens.actions.email import (
    Mailer,
    OptOutList,
    PreviewTransport,
    SmtpServer,
    SmtpTransport,
    UserAddresses,
)
from bucketlens.actions.policies import ActionsSection
from bucketlens.actions.signing import SecretError, parse_secret
from bucketlens.actions.store import ActionStore, endpoint_shown
from bucketlens.actions.webhooks import HttpWebhookSender, PreviewWebhookSender, WebhookSender
from bucketlens.settings import default

SECRET_FIELDS = ("url", "webhook_secret", "smtp_url", "users_db")


class ActionsConfigError(ValueError):
    """Configuration that cannot send actions (an endpoint without a secret): one line naming the variable."""


class ActionsResource(dg.ConfigurableResource):
    url: str  # BUCKETLENS_OUTBOX_DB: the action tables live beside the alert outbox
    endpoint: str = ""  # BUCKETLENS_ACTIONS_URL; empty: the rules file's actions.endpoint, else the preview
    webhook_secret: str = ""  # BUCKETLENS_WEBHOOK_SECRET (whsec_…)
    smtp_url: str = ""  # BUCKETLENS_SMTP_URL; empty: .eml previews
    smtp_tls: str = default("smtp_tls")
    email_from: str = default("email_from")
    opt_out_path: str = ""  # BUCKETLENS_EMAIL_OPT_OUT
    users_db: str = ""  # BUCKETLENS_USERS_DB, for the users' addresses
    user_email_query: str = default("user_email_query")
    home: str  # BUCKETLENS_HOME: actions-preview.jsonl and email-preview/ go here
    ui_url: str = default("ui_url")
    timeout_seconds: int = 10  # per webhook or SMTP call; the delivery lease (2 min) stays well above it

    def __repr_args__(self):
        for name, value in super().__repr_args__():
            yield name, ("<redacted>" if name in SECRET_FIELDS and value else value)

    def store(self, actions: ActionsSection | None = None) -> ActionStore:
        """The action tables (created on first use); nothing connects at import time."""
        return ActionStore(self.url, max_attempts=actions.max_attempts if actions else 8)

    def endpoint_for(self, actions: ActionsSection) -> str:
        return self.endpoint or actions.endpoint

    def _key(self) -> bytes | None:
        if not self.webhook_secret:
            return None
        try:
            return parse_secret(self.webhook_secret)
        except SecretError as exc:
            raise ActionsConfigError(f"BUCKETLENS_WEBHOOK_SECRET {exc}") from None

    def webhook_sender(self, actions: ActionsSection) -> WebhookSender:
        """Signed POSTs to the endpoint; without one, the preview file (signed when a secret is set)."""
        url = self.endpoint_for(actions)
        key = self._key()
        if not url:
            return PreviewWebhookSender(Path(self.home) / "actions-preview.jsonl", key)
        if key is None:
            raise ActionsConfigError(
                f"BUCKETLENS_WEBHOOK_SECRET is not set: actions for {endpoint_shown(url)} are not sent unsigned "
                "(set it to the whsec_… secret the receiving service verifies with); they wait in the outbox"
            )
        return HttpWebhookSender(url, key, endpoint_shown(url), timeout=self.timeout_seconds)

    @contextmanager
    def mailer(self) -> Iterator[Mailer]:
        """SMTP (or the .eml preview), the users' addresses and the opt-out list, for one drain."""
        if self.smtp_url:
            transport = SmtpTransport(SmtpServer.from_url(self.smtp_url, self.smtp_tls, self.timeout_seconds))
        else:
            transport = PreviewTransport(Path(self.home) / "email-preview")
        addresses = UserAddresses(self.users_db, self.user_email_query)
        try:
            yield Mailer(
                transport, self.email_from, addresses, OptOutList(self.opt_out_path or None), self.ui_url
            )
        finally:
            addresses.dispose()
