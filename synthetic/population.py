"""The service's users: plans, signup dates, how much they store and how active they are.

Object counts are heavy-tailed (lognormal body plus a few whales with 5-20 k objects) because per-user
attribution and anomaly scoring must cope with a skewed population. Each user also gets the few
client IPs and the app user agent that their requests come from, so that a normal user never looks
like the 'sharing abuse' pattern (40+ distinct IPs in a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from synthetic.layout import DAY_SECONDS, epoch, rng_for

TIB = 1024**4
PLAN_QUOTA = {"personal": 2 * TIB, "family": 10 * TIB}
FIRST_USER_ID = 1001
MAX_NORMAL_UPLOADS_PER_DAY = 1200
"""Caps a user's average upload rate so that, with ~10 MB mean objects, no normal user-day nears 100 GB."""

USER_AGENTS = np.array(
    [
        "PhotoVault/5.12.0 (iPhone; iOS 17.6.1; Scale/3.00) aws-sdk-swift/0.40.0",
        "PhotoVault/5.12.0 (iPad; iOS 17.5; Scale/2.00) aws-sdk-swift/0.40.0",
        "PhotoVault/5.11.2 (iPhone; iOS 18.0; Scale/3.00) aws-sdk-swift/0.38.0",
        "PhotoVault/5.12.1 (Android 14; Pixel 8 Pro) aws-sdk-kotlin/1.2.28 ua/2.0 os/android",
        "PhotoVault/5.12.1 (Android 13; SM-S911B) aws-sdk-kotlin/1.2.28 ua/2.0 os/android",
        "PhotoVault/5.10.0 (Android 12; moto g power) aws-sdk-kotlin/1.1.9 ua/2.0 os/android",
        "PhotoVaultDesktop/2.4.0 (Macintosh; macOS 14.6) aws-sdk-js/3.637.0",
        "PhotoVaultDesktop/2.4.0 (Windows NT 10.0; Win64) aws-sdk-js/3.637.0",
    ]
)


@dataclass
class Population:
    """Column arrays, one entry per user, indexed by user position (``user_id = 1001 + index``)."""

    user_id: np.ndarray  # str
    plan: np.ndarray  # str
    quota_bytes: np.ndarray  # int64
    signup: np.ndarray  # epoch seconds
    status: np.ndarray  # str
    object_count: np.ndarray  # int64, objects uploaded between signup and the end of the period
    activity: np.ndarray  # float, expected reads per day
    ips: np.ndarray  # (users, 4) str; a user uses the first ``ip_count`` of them
    ip_count: np.ndarray  # int
    user_agent: np.ndarray  # (users, 2) str
    email: np.ndarray  # str

    @property
    def size(self) -> int:
        return len(self.user_id)


def _client_ips(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Residential/mobile-looking IPv4 addresses (documentation ranges avoided on purpose: too few)."""
    first = rng.choice(np.array([24, 50, 67, 73, 98, 108, 172, 174, 76, 99]), size=shape)
    rest = rng.integers(1, 255, size=(*shape, 3))
    parts = [first.astype(str)] + [rest[..., i].astype(str) for i in range(3)]
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, "."), p)
    return out


def make_population(users: int, start: date, days: int, seed: int) -> Population:
    """Draw ``users`` users; ~8 % sign up during the period, the rest up to three years before it."""
    rng = rng_for(seed, "population")
    idx = np.arange(users)
    plan = np.where(rng.random(users) < 0.2, "family", "personal")
    quota = np.where(plan == "family", PLAN_QUOTA["family"], PLAN_QUOTA["personal"]).astype(np.int64)
    start_s, end_s = epoch(start), epoch(start) + days * DAY_SECONDS
    new = rng.random(users) < 0.08
    before = start_s - rng.integers(7 * DAY_SECONDS, 3 * 365 * DAY_SECONDS, size=users)
    during = start_s + rng.integers(0, days * DAY_SECONDS, size=users)
    signup = np.where(new, during, before).astype(np.int64)

    counts = rng.lognormal(mean=np.log(95) - 0.845, sigma=1.3, size=users)
    counts *= np.where(plan == "family", 1.5, 1.0)
    counts = np.clip(counts, 3, 4000)
    n_whales = max(1 if users >= 200 else 0, int(round(users * 0.003)))
    whales = rng.choice(users, size=n_whales, replace=False) if n_whales else np.array([], dtype=int)
    counts[whales] = rng.integers(5000, 20001, size=n_whales)
    active_days = np.maximum((end_s - signup) / DAY_SECONDS, 1.0)
    counts = np.minimum(counts, active_days * MAX_NORMAL_UPLOADS_PER_DAY / 4)
    counts = np.maximum(counts, 1).astype(np.int64)

    status = rng.choice(np.array(["active", "suspended", "deleted"]), size=users, p=[0.96, 0.025, 0.015])
    activity = rng.lognormal(mean=np.log(19), sigma=0.6, size=users) * (np.log1p(counts) / np.log(96))
    ip_count = rng.integers(1, 5, size=users)
    ua_pick = rng.integers(0, len(USER_AGENTS), size=(users, 2))
    user_id = (FIRST_USER_ID + idx).astype(str)
    return Population(
        user_id=user_id,
        plan=plan,
        quota_bytes=quota,
        signup=signup,
        status=status,
        object_count=counts,
        activity=activity,
        ips=_client_ips(rng, (users, 4)),
        ip_count=ip_count,
        user_agent=USER_AGENTS[ua_pick],
        email=np.char.add(np.char.add("user", user_id), "@example.com"),
    )
