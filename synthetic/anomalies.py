"""Injected abuse and cost anomalies, each recorded as a label so detectors can be scored.

Every pattern is made to cross its rule's threshold clearly (design §7) while normal users stay well
below every threshold, and nothing is injected in the first seven days (detectors need history).
Uploads (objects) are injected before the version catalog is built; download/denied traffic after,
because it targets objects that exist on that day. A label's ``date`` is the day the requests happened;
storage-visible patterns also name ``details.inventory_snapshot``, the first report that shows them
(reports list the bucket at 00:00, so that is the next day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from synthetic.inventory import Catalog
from synthetic.layout import DAY_SECONDS, NEVER, epoch, rng_for
from synthetic.objects import DEEP_ARCHIVE, GB, MIB, VersionRows, make_rows, storage_class_codes
from synthetic.population import Population
from synthetic.request_records import (
    ACCESS_DENIED,
    ANONYMOUS,
    ERROR_BODY_BYTES,
    GET,
    RESTORE,
    Requests,
    RequestTexts,
    make_requests,
)
from synthetic.traffic import day_objects, timing

UPLOAD_PATTERNS = [
    "rapid_upload",
    "daily_upload_volume",
    "duplicate_data",
    "non_photo_content",
    "large_object",
    "over_plan_limit",
]
# large_retrieval last: a pattern appended here leaves every earlier pattern's draws (users, days) as they were
REQUEST_PATTERNS = ["sharing_abuse", "failed_access_storm", "cost_spike", "large_retrieval"]
PATTERNS = UPLOAD_PATTERNS + REQUEST_PATTERNS
SERVICE_LEVEL = ("cost_spike",)
SERVICE_SPACING_DAYS = 8
NON_PHOTO = [
    ("backup_{n}", "zip"),
    ("Movie.2023.1080p.{n}", "mkv"),
    ("win11_{n}", "iso"),
    ("setup_{n}", "exe"),
    ("archive_{n}", "7z"),
]
RETRIEVAL_BYTES = (20 * GB, 30 * GB)  # restored in a few hours: twice the rule's 10 GB a day and more
BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.{i}.0 Safari/537.36"


@dataclass
class Injection:
    """One planned anomaly; ``details`` is filled in as it is generated and ends up in the label."""

    pattern: str
    user: int | None
    day: date
    details: dict = field(default_factory=dict)


def injections_per_pattern(users: int, days: int) -> int:
    """A few per pattern, growing with users x days (3 for 2,000 users x 35 days), at least one."""
    return int(max(1, min(4, round(users * days / 25_000))))


def plan(
    pop: Population, rows: VersionRows, start: date, days: int, seed: int, per_pattern: int | None = None
) -> list[Injection]:
    """Pick distinct, established, active users and days (>= day 8) for every pattern. Patterns seen
    in storage or cost need the next day's report/export, so they avoid the last day."""
    rng = rng_for(seed, "anomaly-plan")
    start_s = epoch(start)
    established = np.flatnonzero((pop.status == "active") & (pop.signup < start_s - 30 * DAY_SECONDS))
    bytes_per_user = np.bincount(
        rows.user[rows.user >= 0], weights=rows.size[rows.user >= 0], minlength=pop.size
    )
    order = rng.permutation(established)
    taken: set[int] = set()
    k = per_pattern if per_pattern is not None else injections_per_pattern(pop.size, days)
    out: list[Injection] = []
    for pattern in PATTERNS:
        last = days - 1 if pattern in REQUEST_PATTERNS[:2] else days - 2
        eligible = [start + timedelta(days=d) for d in range(7, last + 1)]
        if not eligible:
            continue
        pool = [u for u in order if u not in taken]
        if pattern == "large_retrieval":
            # only users with enough in Deep Archive can ask for that much back; a small population may
            # have one such user, so an earlier pattern's user is taken when no other qualifies
            archived = _deep_archive_bytes(rows, pop.size, start_s)
            pool = [u for u in pool + [u for u in order if u in taken] if archived[u] >= RETRIEVAL_BYTES[1]]
        if pattern == "over_plan_limit":
            pool = [u for u in pool if pop.plan[u] == "personal"]
        if pattern in ("duplicate_data", "sharing_abuse", "cost_spike"):
            pool = sorted(pool, key=lambda u: -bytes_per_user[u])[: max(k, len(pool) // 3)]
        if pattern in SERVICE_LEVEL:
            # Service-wide spikes on neighbouring days would raise each other's baseline and merge into
            # one episode: keep them a baseline week apart.
            eligible = eligible[::SERVICE_SPACING_DAYS]
        chosen_days = rng.choice(len(eligible), size=min(k, len(eligible)), replace=False)
        for user, d in zip(pool, sorted(chosen_days), strict=False):  # pool is already shuffled
            taken.add(int(user))
            out.append(Injection(pattern, int(user), eligible[d]))
    return out


def _deep_archive_bytes(rows: VersionRows, users: int, at: int) -> np.ndarray:
    """Bytes per user stored in Deep Archive at epoch second ``at`` (current and noncurrent versions)."""
    live = (rows.user >= 0) & ~rows.is_dm & (rows.created < at) & (rows.removed > at)
    deep = storage_class_codes(rows.lane[live], at - rows.created[live]) == DEEP_ARCHIVE
    return np.bincount(rows.user[live][deep], weights=rows.size[live][deep], minlength=users)


def _spread(rng: np.random.Generator, day: date, n: int, first_hour: int, hours: float) -> np.ndarray:
    """``n`` sorted epoch seconds evenly spread over ``hours`` from ``first_hour`` on ``day``."""
    t0 = epoch(day) + first_hour * 3600
    return t0 + np.sort(rng.integers(0, int(hours * 3600), n))


def _upload(user, keys, created, sizes, content_base, pattern, lane=0) -> VersionRows:
    n = len(keys)
    return make_rows(
        np.full(n, user),
        keys,
        created,
        sizes,
        content_base + np.arange(n),
        np.full(n, lane),
        np.full(n, pattern),
    )


def upload_rows(injections: list[Injection], pop: Population, rows: VersionRows, seed: int) -> VersionRows:
    """The objects the upload-type anomalies add to the bucket (kept below 1 GB each except for
    ``large_object``, so each pattern crosses only its own line)."""
    parts = [rows]
    content = int(rows.content.max()) + 1
    for inj in injections:
        if inj.pattern not in UPLOAD_PATTERNS:
            continue
        rng = rng_for(seed, "anomaly", inj.pattern, inj.user, inj.day)
        uid = pop.user_id[inj.user]
        folder = f"users/{uid}/videos/{inj.day:%Y/%m}/"
        if inj.pattern in ("rapid_upload", "daily_upload_volume"):
            n = int(rng.integers(135, 151))
            sizes = rng.uniform(0.8 * GB, 0.9 * GB, n).astype(np.int64)
            hours = (1, 0.9) if inj.pattern == "rapid_upload" else (6, 16)
            first = int(rng.integers(17, 22)) if inj.pattern == "rapid_upload" else hours[0]
            created = _spread(rng, inj.day, n, first, hours[1])
            keys = np.array([f"{folder}VID_{inj.pattern[:1].upper()}{i:04d}.mov" for i in range(n)])
            inj.details.update(objects=n, bytes=int(sizes.sum()), first_hour=first)
        elif inj.pattern == "non_photo_content":
            n = int(rng.integers(6, 13))
            sizes = rng.uniform(100 * MIB, 900 * MIB, n).astype(np.int64)
            created = _spread(rng, inj.day, n, 9, 12)
            names = [NON_PHOTO[i % len(NON_PHOTO)] for i in range(n)]
            keys = np.array(
                [f"users/{uid}/photos/{inj.day:%Y/%m}/{s.format(n=i)}.{e}" for i, (s, e) in enumerate(names)]
            )
            inj.details.update(objects=n, bytes=int(sizes.sum()), extensions=sorted({e for _, e in names}))
        elif inj.pattern == "large_object":
            n = int(rng.integers(1, 3))
            sizes = rng.uniform(1.5 * GB, 3.5 * GB, n).astype(np.int64)
            created = _spread(rng, inj.day, n, 10, 10)
            keys = np.array([f"{folder}VID_L{i:04d}.mov" for i in range(n)])
            inj.details.update(objects=n, sizes=[int(s) for s in sizes])
        elif inj.pattern == "duplicate_data":
            keys, sizes, created, dup_content = _duplicates(rng, rows, inj)
            parts.append(
                make_rows(
                    np.full(len(keys), inj.user),
                    keys,
                    created,
                    sizes,
                    dup_content,
                    np.zeros(len(keys)),
                    np.full(len(keys), inj.pattern),
                )
            )
            inj.details.update(copies=len(keys), wasted_bytes=int(sizes.sum()))
            _mark_storage_visible(inj, keys)
            continue
        else:
            parts.append(_over_plan_history(rng, pop, rows, inj, content))
            content = int(parts[-1].content.max()) + 1
            n = int(rng.integers(80, 96))
            sizes = rng.uniform(0.8 * GB, 0.9 * GB, n).astype(np.int64)
            created = _spread(rng, inj.day, n, 6, 15)
            keys = np.array([f"{folder}VID_P{i:04d}.mov" for i in range(n)])
            inj.details.update(quota_bytes=int(pop.quota_bytes[inj.user]), uploaded_bytes=int(sizes.sum()))
        parts.append(_upload(inj.user, keys, created, sizes, content, inj.pattern))
        content += len(keys)
        _mark_storage_visible(inj, keys)
    return VersionRows.concat(parts)


def _mark_storage_visible(inj: Injection, keys: np.ndarray) -> None:
    inj.details["inventory_snapshot"] = (inj.day + timedelta(days=1)).isoformat()
    inj.details["example_keys"] = [str(k) for k in keys[:3]]


def _duplicates(rng, rows: VersionRows, inj: Injection):
    """Re-upload copies ('name (1).ext') of the user's existing files, same bytes hence same ETag,
    until at least 4 GiB is stored twice."""
    t = epoch(inj.day)
    mine = np.flatnonzero(
        (rows.user == inj.user) & ~rows.is_dm & (rows.created < t) & (rows.superseded == NEVER)
    )
    mine = mine[rng.permutation(len(mine))]
    upto = int(np.searchsorted(np.cumsum(rows.size[mine]), 4 * GB)) + 1
    pick = mine[: min(upto, 3000)]
    keys = np.array([_copy_name(k) for k in rows.key[pick]], dtype=object)
    created = _spread(rng, inj.day, len(pick), 8, 13)
    return keys, rows.size[pick], created, rows.content[pick]


def _copy_name(key: str) -> str:
    stem, dot, ext = key.rpartition(".")
    return f"{stem} (1).{ext}" if dot else f"{key} (1)"


def _over_plan_history(rng, pop: Population, rows: VersionRows, inj: Injection, content: int) -> VersionRows:
    """Old sub-1 GB uploads that leave the user ~40 GiB under quota before the anomaly day."""
    t = epoch(inj.day)
    existing = rows.size[
        (rows.user == inj.user) & ~rows.is_dm & (rows.created < t) & (rows.removed > t)
    ].sum()
    target = int(pop.quota_bytes[inj.user]) - int(existing) - 40 * GB
    sizes = rng.uniform(0.8 * GB, 0.9 * GB, int(target / (0.85 * GB)) + 1).astype(np.int64)
    sizes = sizes[np.cumsum(sizes) <= target]
    lo = max(int(pop.signup[inj.user]), epoch(inj.day) - 400 * DAY_SECONDS)
    created = np.sort(rng.integers(lo, epoch(inj.day) - 20 * DAY_SECONDS, len(sizes)))
    uid = pop.user_id[inj.user]
    keys = np.array([f"users/{uid}/videos/archive/VID_H{i:05d}.mov" for i in range(len(sizes))])
    inj.details["bytes_before"] = int(existing + sizes.sum())
    return _upload(inj.user, keys, created, sizes, content, "over_plan_history")


def request_rows(
    injections: list[Injection],
    cat: Catalog,
    pop: Population,
    texts: RequestTexts,
    seed: int,
    spike_bytes: dict[date, int],
) -> Requests:
    """Download and denied-access traffic of the request-type anomalies (``spike_bytes`` gives the
    extra egress each cost-spike day needs to lift the day's cost well above its trailing days); the
    IPs and user agents they bring are added to ``texts``."""
    parts = [make_requests(0)]
    for inj in injections:
        if inj.pattern not in REQUEST_PATTERNS:
            continue
        rng = rng_for(seed, "anomaly", inj.pattern, inj.user, inj.day)
        if inj.pattern == "large_retrieval":
            parts.append(_mass_restore(rng, cat, pop, inj))
            continue
        objs = day_objects(cat, pop, inj.day, instant_only=True)
        a, n_obj = objs.first[inj.user], objs.count[inj.user]
        mine = objs.rows[a : a + n_obj]
        if len(mine) == 0:
            mine = np.flatnonzero((cat.user == inj.user) & ~cat.is_dm & (cat.created < epoch(inj.day)))
        if inj.pattern == "sharing_abuse":
            n_ip = int(rng.integers(45, 81))
            n = int(rng.integers(400, 901))
            who = np.arange(n) % n_ip
            ips = texts.ips.add(
                [
                    f"{rng.integers(11, 223)}.{rng.integers(0, 256)}.{rng.integers(0, 256)}.{rng.integers(1, 255)}"
                    for _ in range(n_ip)
                ]
            )
            ua = texts.agents.add([BROWSER_UA.format(i=6478 + i) for i in range(n_ip)])
            target = mine[rng.integers(0, len(mine), n)]
            ts = (epoch(inj.day) + np.sort(rng.integers(0, DAY_SECONDS, n))) * 1000
            parts.append(_whole_downloads(rng, cat, inj, target, ts, ips[who], ua[who]))
            inj.details.update(distinct_ips=n_ip, distinct_user_agents=n_ip, requests=n)
        elif inj.pattern == "failed_access_storm":
            n = int(rng.integers(50, 301))
            attackers = texts.ips.add(["185.220.101.34", "45.155.205.99", "193.32.162.7"])
            scripts = texts.agents.add(["python-requests/2.31.0", "curl/8.5.0"])
            target = mine[rng.integers(0, len(mine), n)]
            ts = (
                epoch(inj.day) + int(rng.integers(0, 20)) * 3600 + np.sort(rng.integers(0, 4 * 3600, n))
            ) * 1000
            total, turn = timing(rng, np.zeros(n), 10.0)
            parts.append(
                make_requests(
                    n,
                    ts_ms=ts,
                    user=inj.user,
                    op=GET,
                    obj=target,
                    status=403,
                    error=ACCESS_DENIED,
                    bytes_sent=ERROR_BODY_BYTES,
                    total_ms=total,
                    turn_ms=turn,
                    ip=attackers[rng.integers(0, 3, n)],
                    requester=ANONYMOUS,
                    user_agent=np.where(rng.random(n) < 0.5, scripts[0], scripts[1]),
                )
            )
            inj.details.update(denied_requests=n)
        else:
            want = spike_bytes.get(inj.day, 0)
            big = mine[np.argsort(-cat.size[mine], kind="stable")[:50]]
            per_round = max(int(cat.size[big].sum()), 1)
            target = np.tile(big, want // per_round + 1)
            target = target[: int(np.searchsorted(np.cumsum(cat.size[target]), want)) + 1]
            n = len(target)
            ts = (epoch(inj.day) + 9 * 3600 + np.sort(rng.integers(0, 12 * 3600, n))) * 1000
            # the user's first IP and agent (see RequestTexts)
            first_ip, first_agent = inj.user * pop.ips.shape[1], inj.user * pop.user_agent.shape[1]
            parts.append(_whole_downloads(rng, cat, inj, target, ts, first_ip, first_agent))
            inj.details.update(requests=n, bytes_downloaded=int(cat.size[target].sum()))
    return Requests.concat(parts)


def _mass_restore(rng, cat: Catalog, pop: Population, inj: Injection) -> Requests:
    """One user asks for 20-30 GB of Deep Archive objects back within three hours (POST ?restore, 202):
    the photo backup plan's "large retrieval request". Normal days restore a handful of single objects."""
    objs = day_objects(cat, pop, inj.day, instant_only=False)
    a, n_obj = objs.first[inj.user], objs.count[inj.user]
    archived = objs.rows[a : a + n_obj][objs.cls[a : a + n_obj] == DEEP_ARCHIVE]
    archived = archived[rng.permutation(len(archived))]
    target = rng.uniform(*RETRIEVAL_BYTES)
    rows = archived[: int(np.searchsorted(np.cumsum(cat.size[archived]), target)) + 1]
    n = len(rows)
    total, turn = timing(rng, np.zeros(n), 30.0)
    inj.details.update(restores=n, restored_bytes=int(cat.size[rows].sum()))
    return make_requests(
        n,
        ts_ms=_spread(rng, inj.day, n, int(rng.integers(8, 18)), 3) * 1000,
        user=inj.user,
        op=RESTORE,
        obj=rows,
        status=202,
        object_size=cat.size[rows],
        total_ms=total,
        turn_ms=turn,
        ip=inj.user * pop.ips.shape[1],  # the user's first IP and agent (see RequestTexts)
        user_agent=inj.user * pop.user_agent.shape[1],
        storage_class=DEEP_ARCHIVE,
    )


def _whole_downloads(rng, cat: Catalog, inj: Injection, target: np.ndarray, ts, ip, user_agent) -> Requests:
    """Signed GETs by ``inj.user`` of whole objects of its own (``target``, catalog rows) at ``ts`` (ms),
    from ``ip`` with ``user_agent``. Why one function: the sharing abuse and the egress spike download
    the same way and differ only in when and from where."""
    total, turn = timing(rng, cat.size[target])
    return make_requests(
        len(target),
        ts_ms=ts,
        user=inj.user,
        op=GET,
        obj=target,
        object_size=cat.size[target],
        bytes_sent=cat.size[target],
        total_ms=total,
        turn_ms=turn,
        ip=ip,
        user_agent=user_agent,
        query_auth=True,
        storage_class=_class_of(cat, target, inj.day),
    )


def _class_of(cat: Catalog, rows: np.ndarray, day: date) -> np.ndarray:
    """Storage class of catalog rows on ``day`` (requests record it for retrieval pricing)."""
    return storage_class_codes(cat.lane[rows], epoch(day) - cat.created[rows])
