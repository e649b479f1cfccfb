"""Sending one signed webhook: an HTTP POST to the service's endpoint, or a line in a preview file.

The sender only reports what happened (``Answer``); the drain decides what it means. No redirect is
followed (a redirected POST would lose its body and signature) and nothing is retried here: every retry
goes back through the outbox, under the same ``webhook-id``. Error texts name the failure, never the
endpoint's query string or the secret.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from bucketlens.actions.signing import signed_headers
from bucketlens.leased_queue import utc_naive

DEFAULT_RETRY_AFTER = 30.0
MAX_RETRY_AFTER = 3600.0
_PREVIEW_LOCK = threading.Lock()


@dataclass(frozen=True)
class Answer:
    """The endpoint's answer: a status, or ``None`` when none came (timeout, refused, dropped)."""

    status: int | None
    retry_after: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender(Protocol):
    endpoint: str  # as shown: no query string

    def send(self, webhook_id: str, body: str, now: datetime) -> Answer: ...


def retry_after_seconds(value: str | None, now: datetime) -> float:
    """``Retry-After`` as seconds: a number, or an HTTP date; absent or unreadable: 30 s; at most 1 h."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - utc_naive(now).replace(tzinfo=UTC)).total_seconds()
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer like any other non-2xx


class HttpWebhookSender:
    """POSTs to ``url`` with Standard Webhooks signatures under ``key``."""

    def __init__(self, url: str, key: bytes, endpoint: str, timeout: float = 10.0) -> None:
        self._url = url
        self._key = key
        self.endpoint = endpoint
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects())

    def __repr__(self) -> str:
        return f"HttpWebhookSender({self.endpoint!r}, secret=<redacted>)"

    def send(self, webhook_id: str, body: str, now: datetime) -> Answer:
        timestamp = int(utc_naive(now).replace(tzinfo=UTC).timestamp())
        headers = signed_headers(self._key, webhook_id, timestamp, body)
        request = urllib.request.Request(self._url, data=body.encode(), headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
                return Answer(response.status)
        except urllib.error.HTTPError as err:
            with err:
                retry = retry_after_seconds(err.headers.get("Retry-After"), now) if err.code == 429 else 0.0
                return Answer(err.code, retry, f"HTTP {err.code}")
        except (
            urllib.error.URLError,
            TimeoutError,
            ConnectionError,
            http.client.HTTPException,
            OSError,
        ) as err:
            reason = getattr(err, "reason", err)
            return Answer(
                None, error=f"no answer: {type(reason).__name__}: {reason}".replace(self._url, self.endpoint)
            )


class PreviewWebhookSender:
    """Without an endpoint: the exact signed requests appended to ``actions-preview.jsonl`` (the demo's
    "sent"), so what the service would receive can be read and verified."""

    def __init__(self, path: str | Path, key: bytes | None) -> None:
        self.path = Path(path)
        self.endpoint = f"preview:{self.path.name}"
        self._key = key

    def send(self, webhook_id: str, body: str, now: datetime) -> Answer:
        timestamp = int(utc_naive(now).replace(tzinfo=UTC).timestamp())
        headers = (
            signed_headers(self._key, webhook_id, timestamp, body)
            if self._key
            else {
                "webhook-id": webhook_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": "(unsigned: no BUCKETLENS_WEBHOOK_SECRET)",
            }
        )
        line = json.dumps({"headers": headers, "body": json.loads(body)}, sort_keys=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _PREVIEW_LOCK, self.path.open("a") as out:
            out.write(line + "\n")
        return Answer(200)
