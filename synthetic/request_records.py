"""The request records' layout: operation, requester and error codes, and the column table of requests.

Why this module exists: every generator of requests (the version history and the daily reading in
``traffic``, the injected anomalies, the savings cases) builds the same ``Requests`` columns, and the
access-log writer reads them back; the codes and the column layout are the contract between them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from synthetic.population import Population

OPS = np.array(
    [
        "REST.PUT.OBJECT",
        "REST.GET.OBJECT",
        "REST.HEAD.OBJECT",
        "REST.DELETE.OBJECT",
        "REST.GET.BUCKET",
        "REST.POST.RESTORE",
        "BATCH.DELETE.OBJECT",
        "S3.EXPIRE.OBJECT",
        # multipart uploads (synthetic.savings_cases): initiate, upload a part, abort
        "REST.POST.UPLOADS",
        "REST.PUT.PART",
        "REST.DELETE.UPLOAD",
    ]
)
PUT, GET, HEAD, DELETE, LIST, RESTORE, BATCH_DELETE, EXPIRE = range(8)
APP_ROLE = 0
ANONYMOUS = 1
LIFECYCLE = 2
REQUESTERS = np.array(
    ["arn:aws:sts::123456789012:assumed-role/photos-app-backend/photovault-api", "-", "AmazonS3"]
)
ERROR_BODY_BYTES = 243


ERRORS = np.array([None, "NoSuchKey", "AccessDenied", "SlowDown"], dtype=object)
NO_ERROR, NO_SUCH_KEY, ACCESS_DENIED, SLOW_DOWN = range(len(ERRORS))
BACKEND_IP = "10.20.4.17"
BACKEND_AGENT = "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux"


class TextTable:
    """Distinct texts (client IPs, user agents) that request columns refer to by position.

    A month of requests repeats a few thousand IPs and agents millions of times; holding positions
    instead of Python strings keeps a request at ~60 bytes, and the texts are only looked up (an Arrow
    ``take``) for the log lines being written. The table starts with the population's own values laid
    out per user (``user * width + pick``), so a user's identity needs no lookup at all."""

    def __init__(self, per_user: np.ndarray):
        self._values = [str(v) for v in per_user.ravel()]
        self._arrow: pa.Array | None = None

    def add(self, values) -> np.ndarray:
        """Append ``values`` and return their positions (one per value, repeats included)."""
        first = len(self._values)
        self._values.extend(str(v) for v in values)
        self._arrow = None
        return np.arange(first, len(self._values), dtype=np.int32)

    def arrow(self) -> pa.Array:
        if self._arrow is None:
            self._arrow = pa.array(self._values, type=pa.string())
        return self._arrow


@dataclass
class RequestTexts:
    """The IP and user-agent tables of one generation (see ``TextTable``), with the app backend's."""

    ips: TextTable
    agents: TextTable
    backend_ip: int
    backend_agent: int
    keys: TextTable  # keys no catalog row holds (uploads never completed: synthetic.savings_cases)
    queries: TextTable  # request-URI queries (multipart: uploads, partNumber, uploadId)

    @staticmethod
    def of(pop: Population) -> RequestTexts:
        ips, agents = TextTable(pop.ips), TextTable(pop.user_agent)
        backend = int(ips.add([BACKEND_IP])[0]), int(agents.add([BACKEND_AGENT])[0])
        none = np.array([], dtype=object)
        return RequestTexts(ips, agents, *backend, TextTable(none), TextTable(none))


@dataclass
class Requests:
    """One entry per request, numbers only; ``-1`` in numeric columns means '-' in the log line.

    Texts are references: ``obj`` is the catalog row whose key (and, with ``show_version``, version id)
    the record names; ``miss`` > 0 names the missing key ``users/<id>/photos/2026/01/IMG_9<miss>.jpg``
    of a 404; ``ip`` and ``user_agent`` are positions in the generation's ``RequestTexts``."""

    ts_ms: np.ndarray  # int64 epoch milliseconds
    user: np.ndarray  # int32 user index, -1 for none/_shared
    op: np.ndarray  # int8 index into OPS
    obj: np.ndarray  # int32 catalog row of the key, -1 for none
    miss: np.ndarray  # int16 number of a missing key, 0 for none
    show_version: np.ndarray  # bool: the record carries the catalog row's version id
    status: np.ndarray  # int16, -1 for lifecycle records
    error: np.ndarray  # int8 index into ERRORS
    bytes_sent: np.ndarray  # int64
    object_size: np.ndarray  # int64
    total_ms: np.ndarray  # int64
    turn_ms: np.ndarray  # int64
    ip: np.ndarray  # int32 position in RequestTexts.ips, -1 for none
    requester: np.ndarray  # int8 index into REQUESTERS
    user_agent: np.ndarray  # int32 position in RequestTexts.agents, -1 for none
    query_auth: np.ndarray  # bool: presigned URL (QueryString) instead of AuthHeader
    storage_class: np.ndarray  # int8 class of the object at request time, -1 unknown
    extra_key: np.ndarray  # int32 position in RequestTexts.keys of a key outside the catalog, -1 for none
    query: np.ndarray  # int32 position in RequestTexts.queries of the request-URI's query, -1 for none

    def __len__(self) -> int:
        return len(self.ts_ms)

    @staticmethod
    def concat(parts: list[Requests]) -> Requests:
        return Requests(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Requests)}
        )

    def take(self, idx: np.ndarray) -> Requests:
        return Requests(**{f.name: getattr(self, f.name)[idx] for f in fields(Requests)})


def make_requests(n: int, **cols) -> Requests:
    """Requests with '-' defaults; callers set the columns that matter for them."""
    defaults = {
        "ts_ms": np.zeros(n, np.int64),
        "user": np.full(n, -1, np.int32),
        "op": np.full(n, GET, np.int8),
        "obj": np.full(n, -1, np.int32),
        "miss": np.zeros(n, np.int16),
        "show_version": np.zeros(n, bool),
        "status": np.full(n, 200, np.int16),
        "error": np.full(n, NO_ERROR, np.int8),
        "bytes_sent": np.full(n, -1, np.int64),
        "object_size": np.full(n, -1, np.int64),
        "total_ms": np.full(n, -1, np.int64),
        "turn_ms": np.full(n, -1, np.int64),
        "ip": np.full(n, -1, np.int32),
        "requester": np.full(n, APP_ROLE, np.int8),
        "user_agent": np.full(n, -1, np.int32),
        "query_auth": np.zeros(n, bool),
        "storage_class": np.full(n, -1, np.int8),
        "extra_key": np.full(n, -1, np.int32),
        "query": np.full(n, -1, np.int32),
    }
    for name, value in cols.items():
        target = defaults[name]
        defaults[name] = (
            np.asarray(value, dtype=target.dtype) if np.ndim(value) else np.full(n, value, target.dtype)
        )
    return Requests(**defaults)
