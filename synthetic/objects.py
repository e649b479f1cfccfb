"""The bucket's version history: every object version and delete marker ever created, with when it
stopped being the latest version and when lifecycle removed it.

One row per version makes every daily inventory a simple filter (see ``inventory.snapshot_mask``)
and makes PUT/DELETE/lifecycle log records and storage byte-hours fall out of the same rows, so the
sources agree with each other the way AWS's do. Storage class is not stored: it follows the object's
age through its lifecycle lane (``storage_class_codes``), as a lifecycle configuration would move it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic.layout import DAY_SECONDS, NEVER, epoch, rng_for
from synthetic.population import Population

STORAGE_CLASSES = np.array(
    ["STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
)
STANDARD, INTELLIGENT_TIERING, STANDARD_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE = range(6)
ARCHIVE_CLASSES = (GLACIER, DEEP_ARCHIVE)
LANE_PROBS = np.array([0.65, 0.10, 0.12, 0.08, 0.05])
"""Lifecycle lanes: 0 Standard→Deep Archive at 30 d; 1 Intelligent-Tiering; 2 Standard→IA at 30 d→
Glacier IR at 90 d; 3 Standard→Glacier at 60 d; 4 stays Standard (app assets, small files)."""
NONCURRENT_EXPIRY_DAYS = 30
TMP_EXPIRY_DAYS = 2
MIB = 1024**2
GB = 1024**3
MULTIPART_THRESHOLD = 16 * MIB
PART_SIZE = 8 * MIB
MAX_NORMAL_OBJECT = 900 * MIB
"""Normal objects stay below 1 GB so only injected 'large_object' anomalies cross that line."""

EXTS = np.array(["jpg", "heic", "png", "dng", "mp4", "mov"])
EXT_PROBS = np.array([0.55, 0.30, 0.05, 0.05, 0.03, 0.02])
SPECIAL_NAMES = np.array(
    [
        "photos/Été 2024/IMG {n}.jpg",
        "photos/{n} 100%.jpg",
        "photos/a+b {n}.jpg",
        "photos/Família & amigos/IMG_{n}.heic",
        "photos/写真/IMG_{n}.jpg",
        "photos/café #1/{n}.png",
    ]
)
HOUR_WEIGHTS = np.array(
    [2, 1.2, 0.8, 0.5, 0.4, 0.5, 1, 2, 3, 3.5, 3.5, 3.6, 4, 4, 3.8, 3.8, 4.2, 5, 6.5, 8, 8.5, 8, 6, 3.5]
)
HOUR_PROBS = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
"""Evening-heavy daily rhythm shared by uploads and downloads."""

# The per-row array columns of a VersionRows (all but ``extra``): the ones ``concat`` and ``take`` carry,
# named once so that a new column cannot be carried by one and dropped by the other.
VERSION_COLUMNS = (
    "user",
    "key",
    "created",
    "size",
    "content",
    "is_dm",
    "superseded",
    "removed",
    "lane",
    "origin",
)


@dataclass
class VersionRows:
    """Column arrays of object versions; ``concat`` lets anomaly injection append its own rows."""

    user: np.ndarray  # int32 user index, -1 for objects outside users/
    key: np.ndarray  # str (raw key)
    created: np.ndarray  # int64 epoch seconds
    size: np.ndarray  # int64, -1 for delete markers
    content: np.ndarray  # int64 content id: same content => same ETag
    is_dm: np.ndarray  # bool
    superseded: np.ndarray  # int64, NEVER while latest
    removed: np.ndarray  # int64, NEVER until lifecycle expires it
    lane: np.ndarray  # int8 lifecycle lane
    origin: np.ndarray  # str: 'upload', 'overwrite', 'delete', 'batch_delete', 'lifecycle', or a pattern
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.key)

    @staticmethod
    def concat(parts: list[VersionRows]) -> VersionRows:
        return VersionRows(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in VERSION_COLUMNS})

    def take(self, idx: np.ndarray) -> VersionRows:
        return VersionRows(**{n: getattr(self, n)[idx] for n in VERSION_COLUMNS})


def make_rows(user, key, created, size, content, lane, origin, is_dm=None) -> VersionRows:
    """Fresh, latest, never-removed versions (the usual shape of a new upload)."""
    n = len(key)
    return VersionRows(
        user=np.asarray(user, dtype=np.int32),
        key=np.asarray(key, dtype=object),
        created=np.asarray(created, dtype=np.int64),
        size=np.asarray(size, dtype=np.int64),
        content=np.asarray(content, dtype=np.int64),
        is_dm=np.zeros(n, dtype=bool) if is_dm is None else np.asarray(is_dm, dtype=bool),
        superseded=np.full(n, NEVER, dtype=np.int64),
        removed=np.full(n, NEVER, dtype=np.int64),
        lane=np.asarray(lane, dtype=np.int8),
        origin=np.asarray(origin, dtype=object),
    )


_CLASS_BY_LANE_AND_AGE = np.array(
    [
        [STANDARD, DEEP_ARCHIVE, DEEP_ARCHIVE, DEEP_ARCHIVE],
        [INTELLIGENT_TIERING] * 4,
        [STANDARD, STANDARD_IA, STANDARD_IA, GLACIER_IR],
        [STANDARD, STANDARD, GLACIER, GLACIER],
        [STANDARD] * 4,
    ],
    dtype=np.int8,
)
"""Storage class by lifecycle lane and age bucket (< 30, 30-59, 60-89, >= 90 days)."""


def storage_class_codes(lane: np.ndarray, age_seconds: np.ndarray) -> np.ndarray:
    """Storage class index of versions of a given age, following their lifecycle lane."""
    age = age_seconds // DAY_SECONDS
    bucket = (age >= 30).astype(np.int8) + (age >= 60) + (age >= 90)
    return _CLASS_BY_LANE_AND_AGE[lane, bucket]


def sample_times(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Instants in [lo, hi) with the evening-heavy hour profile and weekends ~30 % busier."""
    n = len(lo)
    span = np.maximum(hi - lo, 1)
    a = lo + (rng.random(n) * span).astype(np.int64)
    b = lo + (rng.random(n) * span).astype(np.int64)
    weekday_a = ((a // DAY_SECONDS) + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
    use_b = (weekday_a < 5) & (rng.random(n) < 0.25)
    t = np.where(use_b, b, a)
    day = t // DAY_SECONDS
    tod = rng.choice(24, size=n, p=HOUR_PROBS) * 3600 + rng.integers(0, 3600, size=n)
    t = day * DAY_SECONDS + tod
    return np.clip(t, lo, hi - 1)


def object_sizes(rng: np.random.Generator, ext: np.ndarray) -> np.ndarray:
    """Photo-like sizes per extension (jpg/heic 1.5-8 MB, dng 20-30 MB, videos 20 MB-900 MB)."""
    n = len(ext)
    photo = np.clip(rng.lognormal(np.log(3.4 * MIB), 0.35, n), 1.5 * MIB, 8 * MIB)
    png = np.clip(rng.lognormal(np.log(1.2 * MIB), 0.8, n), 0.2 * MIB, 5 * MIB)
    dng = rng.uniform(20 * MIB, 30 * MIB, n)
    video = np.clip(rng.lognormal(np.log(110 * MIB), 1.0, n), 20 * MIB, MAX_NORMAL_OBJECT)
    size = np.select([np.isin(ext, ["jpg", "heic"]), ext == "png", ext == "dng"], [photo, png, dng], video)
    return size.astype(np.int64)


def _digits(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as text, zero-padded to ``width`` (``str.zfill``: wider numbers are kept whole)."""
    return pc.utf8_lpad(pc.cast(pa.array(values), pa.string()), width, "0")


def _keys(rng, pop: Population, user, seq, created, ext) -> np.ndarray:
    """``users/<id>/photos/<YYYY>/<MM>/IMG_<n>.<ext>`` (videos under ``videos/``), dated by capture
    month (up to two years before upload); a few users get keys with spaces, '+', '%', non-ASCII."""
    capture = created - rng.integers(0, 730, size=len(user)) * DAY_SECONDS
    dt = capture.astype("datetime64[s]")
    year = dt.astype("datetime64[Y]").astype(int) + 1970
    month = dt.astype("datetime64[M]").astype(int) % 12 + 1
    is_video = np.isin(ext, ["mp4", "mov"])
    video = pa.array(is_video)
    key = pc.binary_join_element_wise(  # joined in Arrow: ~10x numpy's string ops
        "users/",
        pa.array(pop.user_id).take(pa.array(user)),
        pc.if_else(video, "/videos/", "/photos/"),
        _digits(year),
        "/",
        _digits(month, 2),
        "/",
        pc.if_else(video, "VID_", "IMG_"),
        _digits(seq, 4),
        ".",
        pa.array(ext),
        "",
    ).to_numpy(zero_copy_only=False)
    special_users = rng.random(pop.size) < 0.04
    first_of_user = np.r_[True, user[1:] != user[:-1]]
    pick = special_users[user] & ((seq % 37 == 5) | first_of_user) & ~is_video
    for i in np.flatnonzero(pick):
        template = SPECIAL_NAMES[(user[i] + seq[i]) % len(SPECIAL_NAMES)]
        key[i] = f"users/{pop.user_id[user[i]]}/" + template.format(n=f"{seq[i]:04d}")
    return key


def user_uploads(pop: Population, start: date, days: int, seed: int) -> VersionRows:
    """Every object each user uploaded from signup to the end of the period, sorted by user and time."""
    rng = rng_for(seed, "uploads")
    end_s = epoch(start) + days * DAY_SECONDS
    user = np.repeat(np.arange(pop.size, dtype=np.int32), pop.object_count)
    created = sample_times(rng, pop.signup[user], np.full(len(user), end_s, dtype=np.int64))
    order = np.lexsort((created, user))
    user, created = user[order], created[order]
    first = np.searchsorted(user, np.arange(pop.size))
    seq = np.arange(len(user)) - first[user] + 1
    ext = rng.choice(EXTS, size=len(user), p=EXT_PROBS)
    size = object_sizes(rng, ext)
    key = _keys(rng, pop, user, seq, created, ext)
    lane = rng.choice(len(LANE_PROBS), size=len(user), p=LANE_PROBS).astype(np.int8)
    lane[ext == "png"] = 4
    return make_rows(user, key, created, size, np.arange(len(user)), lane, np.full(len(user), "upload"))


def shared_objects(start: date, days: int, seed: int, content_base: int) -> VersionRows:
    """Objects outside ``users/``: app assets (old, Standard) and ``tmp/`` uploads that a lifecycle rule
    expires after two days (in a versioned bucket expiry writes a delete marker)."""
    rng = rng_for(seed, "shared")
    start_s = epoch(start)
    n_assets = 24
    asset_keys = np.array([f"app/assets/v{1 + i // 8}/img/banner_{i:02d}.png" for i in range(n_assets)])
    assets = make_rows(
        np.full(n_assets, -1),
        asset_keys,
        start_s - rng.integers(40, 400, n_assets) * DAY_SECONDS,
        rng.integers(20_000, 900_000, n_assets),
        content_base + np.arange(n_assets),
        np.full(n_assets, 4),
        np.full(n_assets, "upload"),
    )
    n_tmp = 3 * (days + 7)
    tmp_created = start_s - 7 * DAY_SECONDS + np.sort(rng.integers(0, (days + 7) * DAY_SECONDS, n_tmp))
    tmp_keys = np.array([f"tmp/upload-{i:06d}.part" for i in range(n_tmp)])
    tmp = make_rows(
        np.full(n_tmp, -1),
        tmp_keys,
        tmp_created,
        rng.integers(1 * MIB, 40 * MIB, n_tmp),
        content_base + n_assets + np.arange(n_tmp),
        np.full(n_tmp, 4),
        np.full(n_tmp, "upload"),
    )
    return VersionRows.concat([assets, tmp])


def apply_changes(
    rows: VersionRows, start: date, days: int, seed: int, keep_noncurrent: np.ndarray | None = None
) -> VersionRows:
    """Overwrite ~3 % and delete ~4 % of user objects, expire ``tmp/`` objects, then expire noncurrent
    versions 30 days after they stop being latest (NoncurrentVersionExpiration), except those of the
    users in ``keep_noncurrent`` (a prefix the rule misses: ``synthetic.savings_cases``)."""
    rng = rng_for(seed, "changes")
    end_s = epoch(start) + days * DAY_SECONDS
    n = len(rows)
    is_user = rows.user >= 0
    draw = rng.random(n)
    over_t = rows.created + rng.integers(1, 400, n) * DAY_SECONDS + rng.integers(0, DAY_SECONDS, n)
    del_t = rows.created + rng.integers(1, 600, n) * DAY_SECONDS + rng.integers(0, DAY_SECONDS, n)
    overwrite = is_user & (draw < 0.03) & (over_t < end_s)
    delete = is_user & (draw >= 0.03) & (draw < 0.07) & (del_t < end_s)
    is_tmp = _startswith(rows.key, "tmp/")
    tmp_t = (rows.created // DAY_SECONDS + TMP_EXPIRY_DAYS + 1) * DAY_SECONDS + rng.integers(0, 3 * 3600, n)
    expire = is_tmp & (tmp_t < end_s)

    o = np.flatnonzero(overwrite)
    new_versions = make_rows(
        rows.user[o],
        rows.key[o],
        over_t[o],
        (rows.size[o] * rng.uniform(0.8, 1.2, len(o))).astype(np.int64),
        rows.content.max() + 1 + np.arange(len(o)),
        rows.lane[o],
        np.full(len(o), "overwrite"),
    )
    d = np.flatnonzero(delete | expire)
    dm_time = np.where(expire[d], tmp_t[d], del_t[d])
    how = np.where(expire[d], "lifecycle", np.where(rng.random(len(d)) < 0.3, "batch_delete", "delete"))
    markers = make_rows(
        rows.user[d],
        rows.key[d],
        dm_time,
        np.full(len(d), -1),
        np.full(len(d), -1),
        rows.lane[d],
        how,
        is_dm=np.ones(len(d), dtype=bool),
    )
    superseded = rows.superseded.copy()
    superseded[o] = over_t[o]
    superseded[d] = dm_time
    rows.superseded = superseded
    out = VersionRows.concat([rows, new_versions, markers])
    expiry = out.superseded + NONCURRENT_EXPIRY_DAYS * DAY_SECONDS
    expiry = (expiry // DAY_SECONDS) * DAY_SECONDS + 2 * 3600
    gone = (out.superseded < NEVER) & ~out.is_dm & (expiry < end_s)
    if keep_noncurrent is not None and len(keep_noncurrent):
        gone &= ~np.isin(out.user, keep_noncurrent)
    out.removed = np.where(gone, expiry, NEVER)
    return out


def _startswith(keys: np.ndarray, prefix: str) -> np.ndarray:
    """Vectorised ``str.startswith`` over an object array of keys."""
    return np.char.startswith(keys.astype(str), prefix)
