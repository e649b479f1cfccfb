"""A service's webhook endpoint on 127.0.0.1, as strict as a real one should be.

Every request is verified with the ``standardwebhooks`` package (the spec's reference implementation):
the signature over ``{id}.{timestamp}.{body}`` and the timestamp within 5 minutes of the receiver's
clock (the test's clock, so hours of backoff cost nothing: ``ClockedWebhook`` only swaps the time source
of the library's own tolerance check). A request replayed byte for byte (same id, timestamp and
signature) is refused with 400; a skewed or unsigned one with 401. A verified webhook is **applied**
once per ``webhook-id``; a redelivery of an id (a retry after a lost answer) is acknowledged with 200
and counted, not applied again — what the contract asks of a receiver.

``fault_fn(webhook_id, n)`` (n: how often this id has arrived) can make an answer 429 (with
``Retry-After``), 500, 410, slow (before or after applying), or dropped (before or after applying).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

TOLERANCE = timedelta(minutes=5)


class ClockedWebhook(Webhook):
    """The reference verifier, its timestamp tolerance measured on ``clock`` instead of the wall."""

    def __init__(self, secret: str, clock: Callable[[], float]) -> None:
        super().__init__(secret)
        self._clock = clock

    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:  # noqa: N802 (the library's name)
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        try:
            timestamp = datetime.fromtimestamp(float(timestamp_header), tz=UTC)
        except (TypeError, ValueError):
            raise WebhookVerificationError("Invalid Signature Headers") from None
        if timestamp < now - TOLERANCE:
            raise WebhookVerificationError("Message timestamp too old")
        if timestamp > now + TOLERANCE:
            raise WebhookVerificationError("Message timestamp too new")
        return timestamp


@dataclass(frozen=True)
class Fault:
    kind: str  # 429 | 500 | 410 | slow | slow_after | drop | drop_after
    retry_after: float = 30.0
    delay: float = 1.5


@dataclass
class ReceiverState:
    verifier: ClockedWebhook
    fault_fn: Callable[[str, int], Fault | None] | None = None
    applied: dict[str, dict] = field(default_factory=dict)  # webhook-id → body, applied once
    arrivals: Counter = field(default_factory=Counter)  # verified arrivals per webhook-id
    redelivered: Counter = field(default_factory=Counter)  # acknowledged again, not applied again
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (webhook-id, why)
    signatures: set[str] = field(default_factory=set)
    faults: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_request(self) -> Counter:
        """Distinct webhook-ids applied per (request, type): more than one is an action sent twice."""
        return Counter((b["data"]["request_id"], b["type"]) for b in self.applied.values())


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        return None

    def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        body = b"{}"
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        state = self.server.state
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        wid = headers.get("webhook-id", "")
        try:
            payload = state.verifier.verify(body, headers)
        except WebhookVerificationError as err:
            with state.lock:
                state.rejected.append((wid, str(err)))
            return self._answer(401)
        with state.lock:
            signature = headers["webhook-signature"]
            if signature in state.signatures:
                state.rejected.append((wid, "replayed request"))
                return self._answer(400)
            state.signatures.add(signature)
            state.arrivals[wid] += 1
            fault = state.fault_fn(wid, state.arrivals[wid]) if state.fault_fn else None
            if fault is not None:
                state.faults[fault.kind] += 1
        if fault is not None and fault.kind in ("429", "500", "410"):
            extra = {"retry-after": f"{fault.retry_after:g}"} if fault.kind == "429" else {}
            return self._answer(int(fault.kind), extra)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "drop":
            return self._drop()
        with state.lock:
            if wid in state.applied:
                state.redelivered[wid] += 1
            else:
                state.applied[wid] = payload
        if fault is not None and fault.kind == "slow_after":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "drop_after":
            return self._drop()
        return self._answer(200)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ReceiverState


class WebhookReceiver:
    """``with WebhookReceiver(secret, clock) as r:`` → ``r.url``, ``r.state``."""

    def __init__(
        self, secret: str, clock: Callable[[], float] = time.time, path: str = "/hooks/bucketlens"
    ) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = ReceiverState(ClockedWebhook(secret, clock))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def state(self) -> ReceiverState:
        return self._server.state

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def storm(kinds: tuple[str, ...], rate: float, seed: int, delay: float = 1.5):
    """A fault_fn failing ``rate`` of the arrivals with one of ``kinds``; the injected counts."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def fault_fn(webhook_id: str, n: int) -> Fault | None:
        with lock:
            if rng.random() >= rate:
                return None
            return Fault(rng.choice(kinds), retry_after=30, delay=delay)

    return fault_fn
