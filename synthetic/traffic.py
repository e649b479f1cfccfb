"""Every request the bucket served, as column arrays (one row per request), before any log formatting.

Requests come from three places: the version history (each PUT, DELETE, multi-object delete and
lifecycle expiry that created or removed a version), the users' daily reading (GET/HEAD/LIST with a
few 304s, 404s, rare 403s and 503s, and archive restores), and injected anomalies. Keeping them as
plain columns lets the access logs, CloudWatch's request metrics and the cost export all be computed
from the same requests, so the three sources agree as they do on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pyarrow as pa

from synthetic.inventory import Catalog
from synthetic.layout import DAY_SECONDS, NEVER, epoch, rng_for
from synthetic.objects import (
    ARCHIVE_CLASSES,
    DEEP_ARCHIVE,
    HOUR_PROBS,
    storage_class_codes,
)
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


def client_identity(rng: np.random.Generator, pop: Population, user: np.ndarray) -> dict:
    """The user's own devices: one of their 1-4 IPs and one of their two app user agents (positions
    in ``RequestTexts``, which lays each user's values out first)."""
    n = len(user)
    ip_pick = (rng.random(n) * pop.ip_count[user]).astype(int)
    ua_pick = (rng.random(n) < 0.2).astype(int)
    return {
        "ip": user * pop.ips.shape[1] + ip_pick,
        "user_agent": user * pop.user_agent.shape[1] + ua_pick,
    }


def timing(
    rng: np.random.Generator, size: np.ndarray, turn_mean: float = 40.0
) -> tuple[np.ndarray, np.ndarray]:
    """Turn-around and total time (ms): a first-byte latency plus transfer at a few MB/s."""
    turn = np.maximum(1, rng.gamma(2.0, turn_mean / 2.0, len(size))).astype(np.int64)
    rate = rng.uniform(2e6, 12e6, len(size))  # bytes per second
    total = turn + (np.maximum(size, 0) / rate * 1000).astype(np.int64) + rng.integers(0, 5, len(size))
    return total, turn


def mutation_requests(
    cat: Catalog, pop: Population, texts: RequestTexts, start: date, days: int, seed: int
) -> Requests:
    """PUT / DELETE / BATCH.DELETE / S3.EXPIRE records for every version created or removed during the
    period (the log mirrors the version history)."""
    rng = rng_for(seed, "mutations")
    lo, hi = epoch(start), epoch(start) + days * DAY_SECONDS
    origin = cat.table.column("origin").to_numpy(zero_copy_only=False)
    in_period = (cat.created >= lo) & (cat.created < hi)
    parts = []

    put = np.flatnonzero(in_period & ~cat.is_dm)
    ident = _identities(rng, pop, texts, cat.user[put])
    total, turn = timing(rng, cat.size[put], 60.0)
    parts.append(
        make_requests(
            len(put),
            ts_ms=cat.created[put] * 1000 + rng.integers(0, 1000, len(put)),
            user=cat.user[put],
            op=PUT,
            obj=put,
            object_size=cat.size[put],
            total_ms=total,
            turn_ms=turn,
            query_auth=rng.random(len(put)) < 0.7,
            storage_class=0,
            **ident,
        )
    )

    dm = np.flatnonzero(in_period & cat.is_dm)
    kind = origin[dm]
    op = np.select([kind == "batch_delete", kind == "lifecycle"], [BATCH_DELETE, EXPIRE], DELETE)
    ident = _identities(rng, pop, texts, cat.user[dm])
    lifecycle = op == EXPIRE
    total, turn = timing(rng, np.zeros(len(dm)), 25.0)
    parts.append(
        make_requests(
            len(dm),
            ts_ms=cat.created[dm] * 1000 + rng.integers(0, 1000, len(dm)),
            user=cat.user[dm],
            op=op,
            obj=dm,
            status=np.where(lifecycle, -1, 204),
            total_ms=np.where(lifecycle, -1, total),
            turn_ms=np.where(lifecycle, -1, turn),
            ip=np.where(lifecycle, -1, ident["ip"]),
            user_agent=np.where(lifecycle, -1, ident["user_agent"]),
            requester=np.where(lifecycle, LIFECYCLE, APP_ROLE),
        )
    )

    gone = np.flatnonzero((cat.removed >= lo) & (cat.removed < hi) & (cat.removed < NEVER))
    parts.append(
        make_requests(
            len(gone),
            ts_ms=cat.removed[gone] * 1000 + rng.integers(0, 3_600_000, len(gone)),
            user=cat.user[gone],
            op=EXPIRE,
            obj=gone,
            show_version=True,
            status=-1,
            requester=LIFECYCLE,
        )
    )
    return Requests.concat(parts)


def _identities(rng: np.random.Generator, pop: Population, texts: RequestTexts, user: np.ndarray) -> dict:
    """Client identity for user rows; rows of ``_shared`` objects come from the app backend."""
    safe = np.where(user >= 0, user, 0)
    ident = (
        client_identity(rng, pop, safe)
        if pop.size
        else {"ip": np.full(len(user), -1), "user_agent": np.full(len(user), -1)}
    )
    backend = user < 0
    ident["ip"] = np.where(backend, texts.backend_ip, ident["ip"])
    ident["user_agent"] = np.where(backend, texts.backend_agent, ident["user_agent"])
    return ident


@dataclass
class DayObjects:
    """The latest, live versions at a day's start grouped by user, for choosing request targets."""

    rows: np.ndarray  # catalog row indices, sorted by user
    cls: np.ndarray  # storage class at the day's start
    first: np.ndarray  # per user: first position in ``rows``
    count: np.ndarray  # per user: number of objects
    owner: np.ndarray  # the catalog's user column (rows index it)


def day_objects(cat: Catalog, pop: Population, day: date, instant_only: bool) -> DayObjects:
    """Objects a user can read on ``day``: latest non-deleted versions (only non-archive ones if
    ``instant_only``, since the app restores archived photos before reading them)."""
    everything = _live_objects(cat, pop, day)
    return _instant(everything, pop) if instant_only else everything


def _live_objects(cat: Catalog, pop: Population, day: date) -> DayObjects:
    t = epoch(day)
    live = (cat.created < t) & (cat.removed >= t) & (cat.superseded >= t) & ~cat.is_dm & (cat.user >= 0)
    idx = np.flatnonzero(live)
    cls = storage_class_codes(cat.lane[idx], t - cat.created[idx])
    return _grouped(idx, cls, cat.user, pop)


def _instant(objs: DayObjects, pop: Population) -> DayObjects:
    """The non-archive part of ``objs``: filtering keeps the (user, row) order a stable sort would give."""
    keep = ~np.isin(objs.cls, ARCHIVE_CLASSES)
    return _grouped(objs.rows[keep], objs.cls[keep], objs.owner, pop)


def _grouped(idx: np.ndarray, cls: np.ndarray, owner: np.ndarray, pop: Population) -> DayObjects:
    """Rows ordered by user (stable, so by row within a user), with each user's first position and count."""
    users = owner[idx]
    order = np.argsort(users, kind="stable")
    idx, cls, users = idx[order], cls[order], users[order]
    first = np.searchsorted(users, np.arange(pop.size))
    count = np.searchsorted(users, np.arange(pop.size), side="right") - first
    return DayObjects(idx, cls, first, count, owner)


def pick_objects(
    rng: np.random.Generator, objs: DayObjects, user: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One random object per request of ``user`` (callers only pass users with objects)."""
    pos = objs.first[user] + (rng.random(len(user)) * objs.count[user]).astype(np.int64)
    return objs.rows[pos], objs.cls[pos]


def times_in_day(rng: np.random.Generator, day: date, n: int) -> np.ndarray:
    """Epoch milliseconds within ``day`` following the evening-heavy hour profile."""
    hours = rng.choice(24, size=n, p=HOUR_PROBS)
    return (epoch(day) + hours * 3600) * 1000 + rng.integers(0, 3_600_000, n)


def daily_reads(cat: Catalog, pop: Population, day: date, end: date, seed: int) -> Requests:
    """A normal day of reading: GET/HEAD/LIST by every active user, weekends ~25 % busier, with
    304s, 404s, at most two 403s per user, rare 503s, and a few Deep Archive restores."""
    rng = rng_for(seed, "reads", day)
    t = epoch(day)
    sizes = cat.size
    weekend = 1.25 if day.weekday() >= 5 else 1.0
    active = (pop.signup < t) & (pop.status != "deleted") & (pop.status != "suspended")
    n_req = rng.poisson(pop.activity * weekend * active)
    everything = _live_objects(cat, pop, day)
    instant = _instant(everything, pop)
    user = np.repeat(np.arange(pop.size, dtype=np.int32), n_req)
    kind = rng.choice(5, size=len(user), p=[0.50, 0.26, 0.16, 0.05, 0.03])  # GET, HEAD, LIST, 404, 304
    kind[(kind == 0) & (instant.count[user] == 0)] = 2
    kind[(kind == 1) & (everything.count[user] == 0)] = 2
    kind[(kind == 4) & (instant.count[user] == 0)] = 2
    ts = times_in_day(rng, day, len(user))
    ident = client_identity(rng, pop, user)
    out = make_requests(len(user), ts_ms=ts, user=user, **ident)
    out.query_auth = rng.random(len(user)) < 0.6

    for k, objs in ((0, instant), (1, everything), (4, instant)):
        sel = np.flatnonzero(kind == k)
        rows, cls = pick_objects(rng, objs, user[sel])
        out.obj[sel] = rows
        out.object_size[sel] = sizes[rows]
        out.storage_class[sel] = cls
        out.op[sel] = HEAD if k == 1 else GET
    get = np.flatnonzero(kind == 0)
    video = cat.is_video[out.obj[get]]
    partial = video & (rng.random(len(get)) < 0.7)
    out.status[get[partial]] = 206
    out.bytes_sent[get] = np.where(
        partial,
        np.minimum(out.object_size[get], rng.integers(1, 9, len(get)) * 1024 * 1024),
        out.object_size[get],
    )
    out.status[kind == 4] = 304
    lst = np.flatnonzero(kind == 2)
    out.op[lst] = LIST
    out.bytes_sent[lst] = rng.integers(600, 40_000, len(lst))
    miss = np.flatnonzero(kind == 3)
    out.op[miss] = np.where(rng.random(len(miss)) < 0.5, GET, HEAD)
    out.miss[miss] = rng.integers(1000, 9999, len(miss))  # key users/<id>/photos/2026/01/IMG_9<n>.jpg
    out.status[miss], out.error[miss] = 404, NO_SUCH_KEY
    out.bytes_sent[miss] = np.where(out.op[miss] == GET, ERROR_BODY_BYTES, -1)

    denied = np.flatnonzero((kind == 0) & (rng.random(len(user)) < 0.002))
    out.status[denied], out.error[denied], out.bytes_sent[denied] = 403, ACCESS_DENIED, ERROR_BODY_BYTES
    slow = np.flatnonzero((kind <= 1) & (rng.random(len(user)) < 0.0002))
    out.status[slow], out.error[slow], out.bytes_sent[slow] = 503, SLOW_DOWN, ERROR_BODY_BYTES
    size_for_time = np.where(out.bytes_sent > 0, out.bytes_sent, 0)
    out.total_ms, out.turn_ms = timing(rng, size_for_time)
    return Requests.concat([out, _restores(rng, cat, pop, day, end, everything)])


def _restores(rng, cat: Catalog, pop: Population, day: date, end: date, objs: DayObjects) -> Requests:
    """Deep Archive restores (POST ?restore, 202) by a few users, each followed 12-40 h later by a GET
    of the restored copy when that still falls inside the generated period."""
    candidates = np.flatnonzero(
        np.bincount(cat.user[objs.rows][objs.cls == DEEP_ARCHIVE], minlength=pop.size) > 0
    )
    candidates = candidates[(pop.status[candidates] == "active") & (pop.signup[candidates] < epoch(day))]
    n = min(len(candidates), rng.poisson(max(pop.size / 500, 0.5)))
    if n == 0:
        return make_requests(0)
    user = rng.choice(candidates, size=n, replace=False).astype(np.int32)
    rows = np.empty(n, dtype=np.int64)
    for i, u in enumerate(user):  # a handful per day
        a = objs.first[u]
        mine = objs.rows[a : a + objs.count[u]][objs.cls[a : a + objs.count[u]] == DEEP_ARCHIVE]
        rows[i] = mine[rng.integers(0, len(mine))]
    ts = times_in_day(rng, day, n)
    ident = client_identity(rng, pop, user)
    total, turn = timing(rng, np.zeros(n), 30.0)
    restore = make_requests(
        n,
        ts_ms=ts,
        user=user,
        op=RESTORE,
        obj=rows,
        status=202,
        object_size=cat.size[rows],
        total_ms=total,
        turn_ms=turn,
        storage_class=DEEP_ARCHIVE,
        **ident,
    )
    later = ts + rng.integers(12 * 3600_000, 40 * 3600_000, n)
    keep = later < (epoch(end) + DAY_SECONDS) * 1000
    total, turn = timing(rng, cat.size[rows][keep])
    get = make_requests(
        int(keep.sum()),
        ts_ms=later[keep],
        user=user[keep],
        op=GET,
        obj=rows[keep],
        object_size=cat.size[rows][keep],
        bytes_sent=cat.size[rows][keep],
        total_ms=total,
        turn_ms=turn,
        storage_class=DEEP_ARCHIVE,
        ip=ident["ip"][keep],
        user_agent=ident["user_agent"][keep],
    )
    return Requests.concat([restore, get])
