"""Every request the bucket served, as column arrays (one row per request), before any log formatting.

Requests come from three places: the version history (each PUT, DELETE, multi-object delete and
lifecycle expiry that created or removed a version), the users' daily reading (GET/HEAD/LIST with a
few 304s, 404s, rare 403s and 503s, and archive restores), and injected anomalies. Keeping them as
plain columns (``request_records.Requests``) lets the access logs, CloudWatch's request metrics and
the cost export all be computed from the same requests, so the three sources agree as they do on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from synthetic.inventory import Catalog
from synthetic.layout import DAY_SECONDS, NEVER, epoch, rng_for
from synthetic.objects import (
    ARCHIVE_CLASSES,
    DEEP_ARCHIVE,
    HOUR_PROBS,
    storage_class_codes,
)
from synthetic.population import Population
from synthetic.request_records import (
    ACCESS_DENIED,
    APP_ROLE,
    BATCH_DELETE,
    DELETE,
    ERROR_BODY_BYTES,
    EXPIRE,
    GET,
    HEAD,
    LIFECYCLE,
    LIST,
    NO_SUCH_KEY,
    PUT,
    RESTORE,
    SLOW_DOWN,
    Requests,
    RequestTexts,
    make_requests,
)


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
            **_at_creation(rng, cat, put),
            op=PUT,
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
            **_at_creation(rng, cat, dm),
            op=op,
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


def _at_creation(rng: np.random.Generator, cat: Catalog, rows: np.ndarray) -> dict:
    """The columns of the records that created the versions ``rows``: at the version's creation second
    (plus random milliseconds, drawn here, in the caller's order of draws), by its owner, naming it."""
    return {
        "ts_ms": cat.created[rows] * 1000 + rng.integers(0, 1000, len(rows)),
        "user": cat.user[rows],
        "obj": rows,
    }


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
