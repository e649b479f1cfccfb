"""A fake Slack Web API on 127.0.0.1: the methods delivery uses, Slack's validation, and scriptable faults.

Every call is recorded as ``(method, arguments)`` in a list the test owns. Faults are queued per method
(``script``) or chosen by a function (``fault_fn``, used by the storm test):

- ``Fault("429", retry_after=30)`` — rate limited, not processed (what Slack does);
- ``Fault("500")`` — server error, not processed;
- ``Fault("slow", delay=…)`` — processed, then answered after the client's timeout;
- ``Fault("drop")`` — the connection closes before anything is processed;
- ``Fault("processed_drop")`` — processed (the message exists), then the answer is lost;
- ``Fault("ok")`` — answered normally (holds a place in a script: "the second call fails").

``FakeSlack.rate_limit_first(n)`` answers 429 to the first ``n`` calls of *every* method (a workspace
over its limits: listing, history, replies, posting, editing, files), then hands over to the faults
(``fault_fn``) set before it; ``storm(...)`` builds a seeded ``fault_fn`` of the given kinds.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
PAGE = 100


@dataclass(frozen=True)
class Fault:
    kind: str  # 429 | 500 | slow | drop | processed_drop | ok
    retry_after: int = 30
    delay: float = 1.5


@dataclass
class SlackState:
    token: str
    channels: dict[str, str]  # id → name
    clock: Callable[[], float] = time.time
    calls: list[tuple[str, dict]] = field(default_factory=list)
    messages: dict[str, list[dict]] = field(default_factory=dict)  # channel id → messages, oldest first
    uploads: dict[str, bytes] = field(default_factory=dict)
    script: dict[str, list[Fault]] = field(default_factory=dict)
    fault_fn: Callable[[str, dict], Fault | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_ts(self) -> str:
        return f"{int(self.clock())}.{next(self._seq):06d}"

    def channel_id(self, ref: str) -> str | None:
        ref = ref.lstrip("#")
        if ref in self.channels:
            return ref
        return next((cid for cid, name in self.channels.items() if name == ref), None)

    def posted(self, identity: str) -> list[dict]:
        """Every message (top level or reply) whose metadata carries ``identity``."""
        return [
            m
            for msgs in self.messages.values()
            for m in msgs
            if m.get("metadata", {}).get("event_payload", {}).get("identity") == identity
        ]


def _bool(value: object) -> bool:
    return str(value).lower() in ("1", "true")


def _block_errors(blocks: list[dict]) -> list[str]:
    """Slack's Block Kit limits: any breach is ``invalid_blocks`` for the whole message."""
    errors = [f"{len(blocks)} blocks > {MAX_BLOCKS}"] if len(blocks) > MAX_BLOCKS else []
    for i, block in enumerate(blocks):
        limit = MAX_HEADER_TEXT if block.get("type") == "header" else MAX_SECTION_TEXT
        texts = [(block.get("text") or {}).get("text", "")] + [
            e.get("text", "") for e in block.get("elements", [])
        ]
        if any(isinstance(t, str) and len(t) > limit for t in texts):
            errors.append(f"block {i}: text over {limit}")
        fields = block.get("fields", [])
        if len(fields) > MAX_FIELDS or any(len(f["text"]) > MAX_FIELD_TEXT for f in fields):
            errors.append(f"block {i}: fields over limits")
    return errors


class _Handler(BaseHTTPRequestHandler):
    server: FakeSlackServer

    def log_message(self, *args) -> None:  # quiet: the test output is about deliveries
        pass

    def _args(self) -> dict:
        parts = urlsplit(self.path)
        args: dict = dict(parse_qsl(parts.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            args.update(json.loads(body or b"{}"))
        elif body:
            args.update(parse_qsl(body.decode()))
        return args

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(2)

    def do_POST(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        if path.startswith("/upload/"):  # the upload URL takes the raw bytes, as files.slack.com does
            state.uploads[path.rsplit("/", 1)[1]] = self.rfile.read(int(self.headers["Content-Length"]))
            self._send(200, {"ok": True})
            return
        args = self._args()
        method = path.removeprefix("/api/")
        with state.lock:
            state.calls.append((method, args))
            queued = state.script.get(method)
            fault = queued.pop(0) if queued else (state.fault_fn(method, args) if state.fault_fn else None)
        kind = fault.kind if fault else ""
        if kind in ("429", "500"):  # refused before any processing, as Slack does
            error = {"429": "ratelimited", "500": "internal_error"}[kind]
            self._send(int(kind), {"ok": False, "error": error}, {"Retry-After": str(fault.retry_after)})
            return
        if kind == "drop":
            self._drop()
            return
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._send(200, {"ok": False, "error": "invalid_auth"})
            return
        with state.lock:
            payload = self.server.dispatch(method, args)
        if kind == "processed_drop":
            self._drop()
            return
        if kind == "slow":
            time.sleep(fault.delay)
        self._send(200, payload)


class FakeSlackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: SlackState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.base = f"http://127.0.0.1:{self.server_address[1]}/"
        self._file_ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return self.base + "api/"

    def dispatch(self, method: str, args: dict) -> dict:
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        return handler(args) if handler else {"ok": False, "error": "unknown_method"}

    def m_auth_test(self, args: dict) -> dict:
        return {"ok": True, "user_id": "UBOT", "team": "bucketlens-test", "url": self.base}

    def _message(self, channel: str, args: dict, **extra) -> dict:
        msg = {"type": "message", "user": "UBOT", "ts": self.state.next_ts(), "text": args.get("text", "")}
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if args.get(key):
                msg[key] = args[key]
        msg.update(extra)
        self.state.messages.setdefault(channel, []).append(msg)
        return msg

    def m_chat_postMessage(self, args: dict) -> dict:
        channel = self.state.channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if len(args.get("text", "")) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        blocks = list(args.get("blocks", []))
        for attachment in args.get("attachments", []):
            blocks.extend(attachment.get("blocks", []))
        if _block_errors(blocks):
            return {"ok": False, "error": "invalid_blocks", "errors": _block_errors(blocks)}
        msg = self._message(channel, args)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}

    def m_chat_update(self, args: dict) -> dict:
        channel = self.state.channel_id(str(args.get("channel", "")))
        found = [m for m in self.state.messages.get(channel or "", []) if m["ts"] == args.get("ts")]
        if not found:
            return {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args:
                found[0][key] = args[key]
        found[0]["edited"] = {"user": "UBOT", "ts": self.state.next_ts()}
        return {"ok": True, "channel": channel, "ts": args["ts"], "text": found[0]["text"]}

    def _page(self, items: list, args: dict, key: str) -> dict:
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit") or PAGE), PAGE)
        page, rest = items[start : start + limit], items[start + limit :]
        return {
            "ok": True,
            key: page,
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": str(start + limit) if rest else ""},
        }

    def _visible(self, msg: dict, args: dict) -> dict:
        """Slack returns message metadata only to callers that ask for it."""
        hidden = () if _bool(args.get("include_all_metadata")) else ("metadata",)
        return {k: v for k, v in msg.items() if k not in hidden}

    def m_conversations_history(self, args: dict) -> dict:
        channel = self.state.channel_id(str(args.get("channel", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(args.get("oldest") or 0)
        top = [m for m in self.state.messages.get(channel, []) if m.get("thread_ts", m["ts"]) == m["ts"]]
        newest_first = [self._visible(m, args) for m in reversed(top) if float(m["ts"]) > oldest]
        return self._page(newest_first, args, "messages")

    def m_conversations_replies(self, args: dict) -> dict:
        channel = self.state.channel_id(str(args.get("channel", "")))
        messages = self.state.messages.get(channel or "", [])
        thread = [m for m in messages if m.get("thread_ts", m["ts"]) == args.get("ts")]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        oldest = float(args.get("oldest") or 0)
        shown = [self._visible(m, args) for m in thread if m["ts"] == args["ts"] or float(m["ts"]) > oldest]
        return self._page(shown, args, "messages")

    def m_conversations_list(self, args: dict) -> dict:
        channels = [{"id": cid, "name": name, "is_member": True} for cid, name in self.state.channels.items()]
        return self._page(channels, args, "channels")

    def m_files_getUploadURLExternal(self, args: dict) -> dict:
        file_id = f"F{next(self._file_ids):08d}"
        self.state.uploads[file_id] = b""
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}upload/{file_id}"}

    def m_files_completeUploadExternal(self, args: dict) -> dict:
        channel = self.state.channel_id(str(args.get("channel_id", "")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        files = [{"id": f["id"], "title": f.get("title", "")} for f in json.loads(args["files"])]
        comment = {"text": args.get("initial_comment", ""), "thread_ts": args.get("thread_ts")}
        msg = self._message(channel, comment, files=files, upload=True)
        shares = {"public": {channel: [{"ts": msg["ts"], "channel_name": self.state.channels[channel]}]}}
        return {"ok": True, "files": [{**f, "shares": shares} for f in files]}


class FakeSlack:
    """A running fake Slack: ``api_url`` for the client, ``state`` for assertions and scripting."""

    def __init__(
        self, token: str, channels: dict[str, str], clock=time.time, calls: list | None = None
    ) -> None:
        self.state = SlackState(token=token, channels=dict(channels), clock=clock)
        self.state.calls = self.state.calls if calls is None else calls
        self.server = FakeSlackServer(self.state)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def calls(self) -> list[tuple[str, dict]]:
        return self.state.calls

    def script(self, method: str, *faults: Fault) -> None:
        self.state.script.setdefault(method, []).extend(faults)

    def methods(self) -> list[str]:
        return [method for method, _ in self.state.calls]

    def rate_limit_first(self, n: int, retry_after: int = 30) -> Counter:
        """429 with ``Retry-After`` on the first ``n`` calls of every method, then the faults set before;
        returns the per-method call counter (to check every method was limited)."""
        counts: Counter = Counter()
        then = self.state.fault_fn

        def limited(method: str, args: dict) -> Fault | None:
            counts[method] += 1
            if counts[method] <= n:
                return Fault("429", retry_after=retry_after)
            return then(method, args) if then else None

        self.state.fault_fn = limited
        return counts

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


WRITES = ("chat.postMessage", "chat.update", "files.getUploadURLExternal", "files.completeUploadExternal")
READS = ("conversations.list", "conversations.history", "conversations.replies")


def storm(
    kinds: tuple[str, ...],
    rate: float,
    seed: int,
    *,
    methods: tuple[str, ...] = WRITES + READS,
    delay: float = 0.3,
) -> tuple[Callable[[str, dict], Fault | None], Counter]:
    """A seeded ``fault_fn``: each call of ``methods`` fails with probability ``rate``, as one of ``kinds``
    (429s ask for 5–120 s); returns it with the counter of what it injected."""
    rng = random.Random(seed)
    injected: Counter = Counter()

    def fault(method: str, args: dict) -> Fault | None:
        if method not in methods or rng.random() >= rate:
            return None
        kind = rng.choice(kinds)
        injected[kind] += 1
        return Fault(kind, retry_after=rng.choice((5, 30, 120)), delay=delay)

    return fault, injected
