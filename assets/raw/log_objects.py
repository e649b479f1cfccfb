"""Which access-log objects can hold a given day's requests.

S3 names a log object by its *delivery* time (``…YYYY-mm-DD-HH-MM-SS-<unique>``, in both the simple and
the date-partitioned key format), and delivers records minutes to hours after the request. A day's
requests therefore sit in that day's objects and in the next day's early ones; the parser then keeps
only records whose own timestamp falls on the day.
"""

import re
from datetime import date, datetime, timedelta

from assets.raw.guards import days_text

_DELIVERY_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-[0-9A-Za-z]+$")


def delivery_time(key: str) -> datetime | None:
    """The delivery time in a log object's name, or None for keys that are not log objects."""
    match = _DELIVERY_TIME.search(key.rsplit("/", 1)[-1])
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return None


def log_objects_for_day(keys: list[str], day: date, lateness_hours: int) -> tuple[list[str], list[str]]:
    """(objects to read, the subset delivered on ``day`` itself), in the order of ``keys``.

    Unparseable lines are quarantined only from the objects delivered on the day, so a bad line in an
    object read by two partitions is counted once.
    """
    return log_objects_for_days(keys, [day], lateness_hours)[day]


def log_objects_for_days(
    keys: list[str], days: list[date], lateness_hours: int
) -> dict[date, tuple[list[str], list[str]]]:
    """:func:`log_objects_for_day` for every day of a window, each key's delivery time parsed once
    (a 90-day backfill lists ~26,000 log objects: parsing every name again for each day cost seconds).
    Each day's lists keep the order of ``keys``."""
    by_date: dict[date, list[tuple[int, str, datetime]]] = {}
    for index, key in enumerate(keys):
        t = delivery_time(key)
        if t is not None:
            by_date.setdefault(t.date(), []).append((index, key, t))
    out = {}
    for day in days:
        start = datetime(day.year, day.month, day.day)
        end = start + timedelta(days=1, hours=lateness_hours)
        own_end = start + timedelta(days=1)
        candidates = sorted(
            entry
            for offset in range((end - start).days + 1)
            for entry in by_date.get(day + timedelta(days=offset), [])
            if start <= entry[2] < end
        )
        out[day] = ([k for _, k, _ in candidates], [k for _, k, t in candidates if t < own_end])
    return out


def delivery_days(keys: list[str]) -> set[date]:
    """The days on which at least one of ``keys`` was delivered (one pass over a window's listing)."""
    return {t.date() for t in map(delivery_time, keys) if t is not None}


def no_log_objects(days: list[date], where: str, found: int) -> str:
    """The one-line failure for days on which the source (``where``: the prefix's URL) delivered no
    log object."""
    return (
        f"No access-log objects delivered on {days_text(days)} under {where} (expected "
        f"<prefix>{days[0]:%Y-%m-%d}-HH-MM-SS-<id> keys; {found} objects under the prefix). "
        "Nothing was replaced: is the source right?"
    )
