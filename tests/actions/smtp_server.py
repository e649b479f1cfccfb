"""A real SMTP server on 127.0.0.1 (aiosmtpd) receiving the tests' emails, with faults on demand.

``fault_fn(stage, message_id_or_recipient, n)`` may refuse a stage with an SMTP reply: ``"451 …"`` (try
later: the client retries), ``"550 …"`` (permanent), or at ``data`` the special ``"store+451"``, which
keeps the message *and* answers 451 — the mail was handed over but the client cannot know, so a retry
delivers it again under the same Message-ID (what a mail store collapses).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    fault_fn: Callable[[str, str, int], str | None] | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    by_id: Counter = field(default_factory=Counter)  # Message-ID → deliveries
    attempts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, stage: str, key: str) -> str | None:
        with self.lock:
            self.attempts[(stage, key)] += 1
            n = self.attempts[(stage, key)]
        return self.fault_fn(stage, key, n) if self.fault_fn else None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["To"]]


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        reply = self.box.fault("rcpt", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        reply = self.box.fault("data", str(message["Message-ID"]))
        if reply and not reply.startswith("store+"):
            return reply
        with self.box.lock:
            self.box.messages.append(message)
            self.box.by_id[str(message["Message-ID"])] += 1
        return reply.removeprefix("store+") if reply else "250 Message accepted for delivery"


class SmtpServer:
    """``with SmtpServer() as smtp:`` → ``smtp.url`` (``smtp://127.0.0.1:PORT``), ``smtp.box``."""

    def __init__(self) -> None:
        self.box = Mailbox()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._controller = Controller(_Handler(self.box), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()
