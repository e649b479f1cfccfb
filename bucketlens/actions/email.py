"""Email: notices to users about their own account, and alerts to operators besides Slack.

SMTP through the standard library (``smtplib``): ``BUCKETLENS_SMTP_URL`` (``smtp://user:password@host:587``,
``smtps://…`` for implicit TLS), ``BUCKETLENS_SMTP_TLS`` (``starttls`` by default). Without an SMTP URL
the messages are written as ``.eml`` files to ``$BUCKETLENS_HOME/email-preview/`` instead.

Each message is plain text plus HTML (jinja2 templates in ``templates/``, the HTML autoescaped, so a
user id or reason can never become markup) with a Message-ID made from its outbox identity: a message
sent again after a crash carries the same Message-ID, which mail stores use to show it once. A user's
address is looked up when the email is sent (never stored by bucketlens), and the opt-out list is read
then too, so an opt-out written after the notice was queued is honoured.

Failures are classified for the outbox: refused before the message was handed over (connecting, TLS,
login, a 4xx) is ``transient`` — certainly not sent; lost while handing it over is ``uncertain``; a 5xx
is ``permanent``.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import jinja2
import sqlalchemy as sa

from bucketlens.actions.outbox import OPERATOR_ALERT, ActionRow

TLS_MODES = ("starttls", "ssl", "none")
TEMPLATES = Path(__file__).with_name("templates")
SUBJECTS = {
    "quota_warning": "Your photo storage is nearly full",
    "quota_exceeded": "Your photo storage is over your plan's limit",
    "unusual_activity": "Unusual activity on your account",
}
_PREVIEW_LOCK = threading.Lock()
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


class MailError(Exception):
    """A failed send: ``kind`` is ``transient`` (not handed over), ``uncertain`` or ``permanent``."""

    def __init__(self, kind: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str = ""
    password: str = ""
    tls: str = "starttls"
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"SmtpServer({self.host}:{self.port}, tls={self.tls}, user={self.username or '-'})"

    @classmethod
    def from_url(cls, url: str, tls: str = "starttls", timeout: float = 10.0) -> SmtpServer:
        """``smtp://[user[:password]@]host[:port]``; ``smtps://`` means implicit TLS (``tls`` = ssl)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "BUCKETLENS_SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465"
            )
        if tls not in TLS_MODES:
            raise ValueError(f"BUCKETLENS_SMTP_TLS must be one of {', '.join(TLS_MODES)}")
        mode = "ssl" if parts.scheme == "smtps" else tls
        port = parts.port or {"ssl": 465, "starttls": 587, "none": 25}[mode]
        return cls(
            parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""), mode, timeout
        )


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def _code_failure(code: int, what: str) -> MailError:
    return MailError("permanent" if code >= 500 else "transient", f"{what}: SMTP {code}", code)


class SmtpTransport:
    """One SMTP connection per message: a drain sends few, and a fresh session has no stale state."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def __repr__(self) -> str:
        return f"SmtpTransport({self.server!r})"

    def _connect(self) -> smtplib.SMTP:
        s = self.server
        context = ssl.create_default_context()
        if s.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            client.ehlo()
            if s.tls == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if s.username:
                client.login(s.username, s.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: EmailMessage) -> None:
        try:
            client = self._connect()
        except smtplib.SMTPAuthenticationError as err:
            raise MailError("permanent", f"SMTP login refused: {err.smtp_code}", err.smtp_code) from None
        except smtplib.SMTPResponseException as err:
            raise _code_failure(err.smtp_code, "SMTP session refused") from None
        except (smtplib.SMTPException, OSError) as err:  # refused, timed out, TLS: nothing was handed over
            raise MailError("transient", f"SMTP connection failed: {type(err).__name__}") from None
        try:
            refused = client.send_message(message)
            if refused:
                code = min(c for c, _ in refused.values())
                raise _code_failure(code, "recipient refused")
        except smtplib.SMTPRecipientsRefused as err:
            code = min(c for c, _ in err.recipients.values())
            raise _code_failure(code, "recipient refused") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
            raise _code_failure(err.smtp_code, "message refused") from None
        except (smtplib.SMTPException, OSError) as err:  # lost while handing it over: may have arrived
            raise MailError(
                "uncertain", f"SMTP connection lost while sending: {type(err).__name__}"
            ) from None
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


class PreviewTransport:
    """Without SMTP: each message as ``<identity>.eml`` in a folder, readable with any mail client."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def send(self, message: EmailMessage) -> None:
        name = message["Message-ID"].strip("<>").split("@", 1)[0]
        self.folder.mkdir(parents=True, exist_ok=True)
        with _PREVIEW_LOCK:
            (self.folder / f"{name}.eml").write_bytes(bytes(message))


class OptOutList:
    """User ids or addresses, one a line (``#`` starts a comment), read afresh for each email."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None

    def entries(self) -> set[str]:
        if self.path is None or not self.path.exists():
            return set()
        lines = (line.split("#", 1)[0].strip() for line in self.path.read_text().splitlines())
        return {line.lower() for line in lines if line}

    def covers(self, user_id: str, address: str) -> bool:
        entries = self.entries()
        return user_id.lower() in entries or address.lower() in entries


def render(template: str, **context: object) -> tuple[str, str]:
    """(plain text, HTML) of ``template``: ``<template>.txt`` and ``<template>.html``."""
    return _ENV.get_template(f"{template}.txt").render(**context), _ENV.get_template(
        f"{template}.html"
    ).render(**context)


def message_id(identity: str) -> str:
    """The same Message-ID for every send of one outbox row."""
    return f"<{identity}@bucketlens>"


def compose(subject: str, sender: str, to: list[str], identity: str, text: str, html: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(identity)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


@dataclass(frozen=True)
class Prepared:
    """A message ready to send, or why none is sent (``skip``)."""

    message: EmailMessage | None
    to: str
    skip: str = ""


class Mailer:
    """Turns an outbox row into an email (looking up the user's address and the opt-out list) and sends it."""

    def __init__(
        self,
        transport: Transport,
        sender: str,
        address_of: Callable[[str], str | None],
        opt_out: OptOutList,
        ui_url: str = "",
    ) -> None:
        self.transport = transport
        self.sender = sender
        self.address_of = address_of
        self.opt_out = opt_out
        self.ui_url = ui_url

    def prepare(self, row: ActionRow) -> Prepared:
        data = json.loads(row.payload)
        if row.event_type == OPERATOR_ALERT:
            subject = f"[bucketlens {data['severity']}] {data['rule']}: {data['subject']}"
            text, html = render("operator_alert", ui_url=self.ui_url, **data)
            return Prepared(
                compose(subject, self.sender, data["to"], row.identity, text, html), ", ".join(data["to"])
            )
        user = data["user_id"]
        address = self.address_of(user)
        if not address:
            return Prepared(None, "", f"no email address for user {user}")
        if self.opt_out.covers(user, address):
            return Prepared(None, address, f"user {user} opted out of email notices")
        text, html = render(data["notice"], **data)
        return Prepared(
            compose(SUBJECTS[data["notice"]], self.sender, [address], row.identity, text, html), address
        )

    def send(self, message: EmailMessage) -> None:
        self.transport.send(message)


class UserAddresses:
    """A user's email address from the service's users database, one bound query per lookup (the
    address is used for the one message, never stored)."""

    def __init__(self, url: str, query: str) -> None:
        self._url = url
        self._query = sa.text(query)
        self._engine: sa.Engine | None = None

    def __repr__(self) -> str:
        return "UserAddresses(<users database>)"

    def __call__(self, user_id: str) -> str | None:
        if self._engine is None:
            self._engine = sa.create_engine(self._url)
        with self._engine.connect() as conn:
            found = conn.execute(self._query, {"user_id": user_id}).scalars().all()
        return str(found[0]).strip() if found and found[0] else None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
