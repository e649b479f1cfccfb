"""Labelled leaks the normal history does not produce: data of users the users database no longer knows,
noncurrent versions a lifecycle rule forgot, and multipart uploads nobody finished.

The simulated bucket expires noncurrent versions after 30 days and never leaves an upload open, so
without these cases the leak detectors would have nothing to find but deleted users' data. Each case is
small (two or three users) and written to ``labels.jsonl`` with the pattern its detector reports
(``orphaned_data``, ``noncurrent_versions``, ``incomplete_multipart_uploads``); like the anomalies, they
are left out of a month generated without anomalies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from synthetic.layout import DAY_SECONDS, det_hex, epoch, rng_for
from synthetic.objects import PART_SIZE
from synthetic.population import Population
from synthetic.request_records import OPS, Requests, RequestTexts, make_requests
from synthetic.traffic import client_identity

LEAK_PATTERNS = ("orphaned_data", "noncurrent_versions", "incomplete_multipart_uploads")
ABSENT_USERS = 2
VERSION_KEEPERS = 2
PARTS = (3, 2, 2)  # parts of each incomplete upload (8 MiB each)
OP_INDEX = {name: i for i, name in enumerate(OPS)}
INITIATE, PART, ABORT = (OP_INDEX[n] for n in ("REST.POST.UPLOADS", "REST.PUT.PART", "REST.DELETE.UPLOAD"))


@dataclass
class SavingsCases:
    """Who the cases are about; ``labels`` become lines of labels.jsonl."""

    absent: np.ndarray  # user indexes left out of users.sqlite
    keep_versions: np.ndarray  # user indexes whose noncurrent versions never expire
    labels: list[dict] = field(default_factory=list)

    def requests(self, pop: Population, texts: RequestTexts, start: date, days: int, seed: int) -> Requests:
        """The multipart uploads' access-log requests (their keys and queries added to ``texts``); their
        labels go first, as the cases' other labels were planned without them."""
        requests, labels = multipart_requests(pop, texts, start, days, seed)
        self.labels[:0] = labels
        return requests


def absent_users(pop: Population, object_users: np.ndarray) -> np.ndarray:
    """The deleted users with the most objects: the service removed their rows, not their files."""
    deleted = np.flatnonzero(pop.status == "deleted")
    counts = np.bincount(object_users[object_users >= 0], minlength=pop.size)[deleted]
    order = np.lexsort((deleted, -counts))
    return np.sort(deleted[order][:ABSENT_USERS][counts[order][:ABSENT_USERS] > 0])


def version_keepers(pop: Population) -> np.ndarray:
    """The active users with the most objects (so with overwrites long ago) whose prefix a lifecycle rule
    misses: their noncurrent versions stay."""
    active = np.flatnonzero((pop.status == "active") & (pop.object_count < 5000))
    order = np.lexsort((active, -pop.object_count[active]))
    return np.sort(active[order][:VERSION_KEEPERS])


def multipart_requests(
    pop: Population, texts: RequestTexts, start: date, days: int, seed: int
) -> tuple[Requests, list[dict]]:
    """Three uploads initiated, given parts and never completed nor aborted, and one aborted (not a leak):
    their access-log records (initiate, parts, abort; S3 answers the initiate with the upload id that
    every later request names) and their labels."""
    rng = rng_for(seed, "savings-multipart")
    start_s = epoch(start)
    established = np.flatnonzero((pop.status == "active") & (pop.signup < start_s - 30 * DAY_SECONDS))
    users = rng.choice(established, size=len(PARTS) + 1, replace=False)
    offsets = sorted({min(1, days - 1), days // 3, days // 2})
    offsets += [offsets[-1]] * (len(PARTS) - len(offsets))
    parts: list[Requests] = []
    labels = []
    for i, user in enumerate(users):
        aborted = i == len(PARTS)
        day = offsets[min(i, len(offsets) - 1)]
        t0 = start_s + day * DAY_SECONDS + int(rng.integers(9 * 3600, 21 * 3600))
        key = f"users/{pop.user_id[user]}/videos/VID_upload_{i + 1:02d}.mov"
        upload_id = det_hex(seed, "upload-id", i, length=64)
        n_parts = 1 if aborted else PARTS[i]
        times = t0 + np.arange(n_parts + 1 + int(aborted)) * 40
        ops = [INITIATE, *[PART] * n_parts] + ([ABORT] if aborted else [])
        queries = ["uploads"] + [f"partNumber={p + 1}&uploadId={upload_id}" for p in range(n_parts)]
        queries += [f"uploadId={upload_id}"] if aborted else []
        n = len(ops)
        ident = client_identity(rng, pop, np.full(n, user))
        parts.append(
            make_requests(
                n,
                ts_ms=times * 1000 + rng.integers(0, 1000, n),
                user=user,
                op=np.array(ops),
                extra_key=texts.keys.add([key] * n),
                status=np.array([200] + [200] * n_parts + ([204] if aborted else [])),
                bytes_sent=np.array([356] + [-1] * n_parts + ([-1] if aborted else [])),
                object_size=np.array([-1] + [PART_SIZE] * n_parts + ([-1] if aborted else [])),
                total_ms=rng.integers(40, 2000, n),
                turn_ms=rng.integers(5, 40, n),
                query=texts.queries.add(queries),
                **ident,
            )
        )
        if not aborted:
            labels.append(
                {
                    "date": (start + timedelta(days=day)).isoformat(),
                    "user_id": str(pop.user_id[user]),
                    "pattern": "incomplete_multipart_uploads",
                    "details": {
                        "key": key,
                        "upload_id": upload_id,
                        "parts": n_parts,
                        "bytes": n_parts * PART_SIZE,
                    },
                }
            )
    return Requests.concat(parts), labels


def plan_cases(pop: Population, object_users: np.ndarray, start: date, days: int, seed: int) -> SavingsCases:
    """Choose the cases for a generated month (``object_users``: the owner of every object version)."""
    absent = absent_users(pop, object_users)
    keepers = version_keepers(pop)
    first = start.isoformat()
    labels = [
        {"date": first, "user_id": str(pop.user_id[u]), "pattern": "orphaned_data",
         "details": {"reason": "absent from the users database", "status": str(pop.status[u])}}
        for u in absent
    ]  # fmt: skip
    labels += [
        {"date": first, "user_id": str(pop.user_id[u]), "pattern": "noncurrent_versions",
         "details": {"reason": "noncurrent versions never expire under this prefix"}}
        for u in keepers
    ]  # fmt: skip
    return SavingsCases(absent, keepers, labels)
