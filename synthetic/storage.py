"""Daily storage totals computed from the version catalog with the same snapshot rule as the
inventory reports, so CloudWatch's BucketSizeBytes and the cost export's storage lines equal what the
day's report lists (every version AWS bills, delete markers never)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from synthetic.inventory import Catalog, snapshot_mask
from synthetic.layout import epoch
from synthetic.objects import STORAGE_CLASSES, storage_class_codes


@dataclass
class DayStorage:
    """Bytes and version counts per storage class at a day's 00:00 UTC."""

    day: date
    bytes_by_class: dict[str, int]
    objects_by_class: dict[str, int]
    versions: int  # all non-delete-marker versions (NumberOfObjects)
    latest_objects: int  # latest, non-deleted objects
    report_rows: int  # rows the day's inventory report lists (delete markers included)


def day_storage(cat: Catalog, day: date) -> DayStorage:
    """Storage by class at the start of ``day``."""
    t = epoch(day)
    present = snapshot_mask(cat, day)
    idx = np.flatnonzero(present & ~cat.is_dm)
    cls = storage_class_codes(cat.lane[idx], t - cat.created[idx])
    sizes = np.bincount(cls, weights=cat.size[idx].astype(np.float64), minlength=len(STORAGE_CLASSES))
    counts = np.bincount(cls, minlength=len(STORAGE_CLASSES))
    latest = int((cat.superseded[idx] >= t).sum())
    return DayStorage(
        day=day,
        bytes_by_class={str(c): int(round(s)) for c, s in zip(STORAGE_CLASSES, sizes, strict=True)},
        objects_by_class={str(c): int(n) for c, n in zip(STORAGE_CLASSES, counts, strict=True)},
        versions=len(idx),
        latest_objects=latest,
        report_rows=int(present.sum()),
    )


def transitions(cat: Catalog, day: date) -> dict[str, int]:
    """Lifecycle transitions during ``day``: versions present all day whose class changes by its end,
    counted by the class they move into (billed as that class's transition requests)."""
    t0, t1 = epoch(day), epoch(day) + 86_400
    idx = np.flatnonzero((cat.created < t0) & (cat.removed >= t1) & ~cat.is_dm)
    before = storage_class_codes(cat.lane[idx], t0 - cat.created[idx])
    after = storage_class_codes(cat.lane[idx], t1 - cat.created[idx])
    moved = after[before != after]
    counts = np.bincount(moved, minlength=len(STORAGE_CLASSES))
    return {str(c): int(n) for c, n in zip(STORAGE_CLASSES, counts, strict=True) if n}
