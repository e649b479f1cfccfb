"""Names and paths the generator shares with AWS's real layout, plus deterministic identifiers.

Every path under the source root is built here so that the inventory, log, CloudWatch and cost writers
cannot drift apart from each other or from what the readers in ``bucketlens.formats`` expect. Random
identifiers (UUIDs, hex ids) are derived from the seed and a purpose string, never from the clock or
``uuid4``, so a seed reproduces byte-identical files.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

SOURCE_BUCKET = "photos-prod"
LOG_BUCKET = "photos-logs"
INVENTORY_BUCKET = "photos-inventory"
BILLING_BUCKET = "photos-billing"
INVENTORY_CONFIG_ID = "daily-all-versions"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
CUR_EXPORT_NAME = "s3-cur"
DAY_SECONDS = 86_400
NEVER = np.int64(2**62)
"""Sentinel timestamp (epoch seconds) for 'has not happened': compares later than any real time."""


def epoch(d: date) -> int:
    """Epoch seconds of ``d`` at 00:00 UTC."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


def day_of(epoch_seconds: int) -> date:
    """UTC calendar date of an epoch-seconds instant."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=int(epoch_seconds))).date()


def rng_for(seed: int, *purpose: object) -> np.random.Generator:
    """An independent random stream per (seed, purpose) so adding draws in one place moves nothing else."""
    digest = hashlib.sha256(repr((seed, *purpose)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def det_hex(seed: int, *purpose: object, length: int = 32) -> str:
    """Lower-case hex string of ``length`` characters derived from seed and purpose."""
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(repr((seed, counter, *purpose)).encode()).hexdigest()
        counter += 1
    return out[:length]


def det_uuid(seed: int, *purpose: object) -> str:
    """A UUID-4-shaped string derived from seed and purpose (AWS names data files with UUIDs)."""
    h = det_hex(seed, "uuid", *purpose)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def inventory_root() -> str:
    """Key prefix of this bucket's inventory configuration, relative to the source root."""
    return f"inventory/{SOURCE_BUCKET}/{INVENTORY_CONFIG_ID}"


def inventory_folder(snapshot_date: date) -> str:
    """Manifest folder of the daily report whose scan started at 01:00 UTC on ``snapshot_date``."""
    return f"{inventory_root()}/{snapshot_date.isoformat()}T01-00Z"


def cur_data_dir(period_start: date, execution_id: str) -> str:
    """Folder of one Data Exports execution's files for a billing period."""
    return f"cur/{CUR_EXPORT_NAME}/data/BILLING_PERIOD={period_start:%Y-%m}/{execution_id}"


def cur_manifest_path(period_start: date) -> str:
    """The per-period manifest, which always names the latest execution."""
    return (
        f"cur/{CUR_EXPORT_NAME}/metadata/BILLING_PERIOD={period_start:%Y-%m}/{CUR_EXPORT_NAME}-Manifest.json"
    )


def md5_file(path: Path) -> str:
    """Hex MD5 of a file, streamed so big data files never sit in memory."""
    h = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
