"""The two ways a rendered notification leaves bucketlens: Slack's Web API, or a local preview file.

Both speak the same small protocol (post, update, upload, find a message by identity), so delivery's
exactly-once logic is the same for the demo's preview and for production Slack.

The Slack sender deliberately does *not* let slack_sdk retry writes after a dropped connection: the
request may have been processed, and a blind retry of ``chat.postMessage`` would post twice. Those
retries go back through the outbox, which looks for the message first. Reads (history, channel list)
are idempotent and keep slack_sdk's connection retries; a short 429 pause is waited out in-call (Slack
did not process a rate-limited request), a long one is the outbox's ``next_attempt_at``.
"""

from __future__ import annotations

import http.client
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.jitter import Jitter

__all__ = ["CHANNEL_LIST_METHOD", "SendError", "Sender", "SlackSender", "carries_identity"]

# Slack error codes worth another try; every other error code means the request itself is wrong.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)
DEFAULT_RETRY_AFTER = 30.0
HISTORY_PAGE = 200
READ_RETRY_BACKOFF_SECONDS = 0.2
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
CHANNEL_LIST_METHOD = "conversations_list"


class SendError(Exception):
    """A failed Slack call, classified for the outbox.

    ``kind``: ``rate_limited`` (not processed; wait ``retry_after``), ``transient`` (certainly not
    processed), ``uncertain`` (may have been processed), ``permanent`` (Slack refused; retrying won't help).
    ``method`` is the Web API method that failed (``conversations_list``: the channel listing).
    The message is built from the method and Slack's error code only, so it never carries the token.
    """

    def __init__(
        self, kind: str, message: str, *, code: str = "", retry_after: float = 0.0, method: str = ""
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.retry_after = retry_after
        self.method = method


class Sender(Protocol):
    ui_url: str

    def channel_id(self, channel: str) -> str: ...

    def post(self, args: dict) -> tuple[str, str]: ...

    def update(self, channel_id: str, ts: str, args: dict) -> None: ...

    def upload(self, channel_id: str, path: str, text: str, thread_ts: str = "") -> tuple[str, str]: ...

    def find_message(
        self,
        channel_id: str,
        identity: str,
        oldest: datetime,
        *,
        thread_ts: str | None,
        upload_text: str | None,
    ) -> str | None: ...


class ShortRateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, used only when Slack asks for a pause short enough to wait inside a drain."""

    def __init__(self, max_wait_seconds: float) -> None:
        super().__init__(max_retry_count=1)
        self.max_wait_seconds = max_wait_seconds

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        values = [v for k, v in response.headers.items() if k.lower() == "retry-after"]
        value = values[0][0] if values and isinstance(values[0], list) else (values[0] if values else None)
        try:
            return value is not None and float(value) <= self.max_wait_seconds
        except ValueError:
            return False


class ProportionalJitter(Jitter):
    """Up to the pause again, not slack_sdk's default of up to a whole second: a dropped read is retried
    after 0.2–0.4 s, then 0.4–0.8 s, so a drain keeps within its deadline while connections drop."""

    def recalculate(self, duration: float) -> float:
        return duration + random.uniform(0, duration)


def _epoch(moment: datetime) -> str:
    return f"{moment.replace(tzinfo=UTC).timestamp():.6f}"


def carries_identity(message: dict, identity: str) -> bool:
    """Whether a Slack message's metadata names this notification (how a lost answer is found again)."""
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return payload.get("identity") == identity


class SlackSender:
    """Slack's Web API through ``slack_sdk.WebClient`` (``api_url`` points it at a fake in tests)."""

    def __init__(
        self,
        token: str,
        api_url: str = "https://slack.com/api/",
        timeout: float = 10,
        *,
        ui_url: str = "",
        max_inline_wait_seconds: float = 1.0,
    ) -> None:
        self._token = token
        self.api_url = api_url
        self.ui_url = ui_url
        rate = ShortRateLimitRetry(max_inline_wait_seconds)
        self._writes = WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=[rate])
        pause = BackoffRetryIntervalCalculator(
            backoff_factor=READ_RETRY_BACKOFF_SECONDS, jitter=ProportionalJitter()
        )
        reads = [ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=pause), rate]
        self._reads = WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=reads)
        self._channels: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"SlackSender(api_url={self.api_url!r}, token=<redacted>)"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<redacted>") if self._token else text

    def _call(self, method: str, *, write: bool, **kwargs):
        """One Web API call; every failure becomes a SendError (chained exceptions dropped: they hold
        the request, headers and all)."""
        client = self._writes if write else self._reads
        doubt = "uncertain" if write else "transient"
        try:
            return getattr(client, method)(**kwargs)
        except SlackApiError as err:
            failure = self._api_failure(method, err.response, doubt)
        except FileNotFoundError as err:
            failure = SendError(
                "permanent", f"{method}: attachment not found: {err.filename}", code="file_not_found"
            )
        except (
            SlackClientError,
            TimeoutError,
            URLError,
            ConnectionError,
            http.client.HTTPException,
            OSError,
        ) as err:
            failure = SendError(doubt, self._scrub(f"{method}: {type(err).__name__}: {err}"))
        failure.method = method
        raise failure

    def _api_failure(self, method: str, response, doubt: str) -> SendError:
        status = response.status_code
        data = response.data if isinstance(response.data, dict) else {}
        code = str(data.get("error") or "")
        message = self._scrub(f"{method}: HTTP {status} {code}".strip())
        if status == 429:
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            try:
                retry_after = float(headers.get("retry-after", DEFAULT_RETRY_AFTER))
            except (TypeError, ValueError):
                retry_after = DEFAULT_RETRY_AFTER
            return SendError("rate_limited", message, code="ratelimited", retry_after=retry_after)
        if status >= 500 or code in TRANSIENT_ERRORS:
            return SendError(doubt, message, code=code)
        return SendError("permanent", message, code=code)

    def channel_id(self, channel: str) -> str:
        """The id of a channel given by name (``#alerts`` or ``alerts``) or id, from one cached listing.

        Only a *complete* listing is cached and only a channel missing from one is an error
        (``channel_not_found``, permanent: the operator must create it or invite the bot). A page that
        fails (429, 5xx, timeout) raises that failure, retried later, and caches nothing: a partial map
        would make every channel on the unread pages look missing.
        """
        name = channel.lstrip("#")
        if _CHANNEL_ID.match(name):
            return name
        if self._channels is None:
            listed: dict[str, str] = {}
            cursor = None
            while True:
                page = self._call(
                    CHANNEL_LIST_METHOD,
                    write=False,
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                )
                listed.update({c["name"]: c["id"] for c in page.get("channels", [])})
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
            self._channels = listed
        if name not in self._channels:
            raise SendError(
                "permanent",
                f"channel_not_found: #{name} (does it exist, is the bot in it?)",
                code="channel_not_found",
            )
        return self._channels[name]

    def post(self, args: dict) -> tuple[str, str]:
        response = self._call("chat_postMessage", write=True, **args)
        return response["channel"], response["ts"]

    def update(self, channel_id: str, ts: str, args: dict) -> None:
        content = {k: args[k] for k in ("text", "attachments", "blocks") if k in args}
        self._call("chat_update", write=True, channel=channel_id, ts=ts, **content)

    def upload(self, channel_id: str, path: str, text: str, thread_ts: str = "") -> tuple[str, str]:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        response = self._call(
            "files_upload_v2",
            write=True,
            channel=channel_id,
            file=path,
            filename=Path(path).name,
            title=Path(path).name,
            initial_comment=text,
            **extra,
        )
        shares = (response.get("files") or [{}])[0].get("shares") or {}
        for scope in ("public", "private"):
            posted = (shares.get(scope) or {}).get(channel_id) or []
            if posted:
                return channel_id, posted[0]["ts"]
        return channel_id, ""

    def find_message(
        self,
        channel_id: str,
        identity: str,
        oldest: datetime,
        *,
        thread_ts: str | None,
        upload_text: str | None,
    ) -> str | None:
        """The ts of the message carrying ``identity`` (an upload: the same comment with a file) posted
        after ``oldest``, in the thread ``thread_ts`` or the channel; None when there is none."""
        method, args = "conversations_history", {"channel": channel_id}
        if thread_ts:
            method, args = "conversations_replies", {"channel": channel_id, "ts": thread_ts}
        cursor = None
        while True:
            try:
                page = self._call(
                    method,
                    write=False,
                    include_all_metadata=True,
                    oldest=_epoch(oldest),
                    limit=HISTORY_PAGE,
                    cursor=cursor,
                    **args,
                )
            except SendError as err:
                if err.code in ("thread_not_found", "message_not_found"):
                    return None
                raise
            for message in page.get("messages", []):
                if carries_identity(message, identity) or (
                    upload_text is not None and message.get("files") and message.get("text") == upload_text
                ):
                    return message["ts"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
