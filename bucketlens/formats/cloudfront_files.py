"""Which CloudFront log files can hold a given day's requests, and what their keys say.

CloudFront names a legacy log file ``<prefix>/<distribution ID>.YYYY-MM-DD-HH.<unique ID>.gz`` for the
hour in which its requests *occurred*, even when it is delivered up to 24 hours late (AWS: "Timing of
log file delivery"); standard logging v2 puts the same hour in its partitions (``…/2026/12/05/13/`` or,
Hive-compatible, ``…/DistributionId=E123/year=2026/month=12/day=05/hour=13/``). A day's requests are
therefore in the files named for that day, and at its edges in the last file of the day before and the
files of the day after (a request completed on the hour may sit in the next period's file). Files whose
key names no hour are read for every day, so nothing is missed. Late files are simply files that were
not listed yet the first time a day ran: rerunning the day reads them.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_LEGACY = re.compile(r"(?:^|/)([A-Z0-9]{6,})\.(\d{4})-(\d{2})-(\d{2})-(\d{2})\.[^/]+$")
_HIVE_HOUR = re.compile(r"year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})/hour=(\d{1,2})/")
_PATH_HOUR = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
_NAME_HOUR = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})[^/]*$")
_HIVE_DIST = re.compile(r"(?:^|/)DistributionId=([^/]+)/")
_NAME_DIST = re.compile(r"(?:^|/)(E[A-Z0-9]{5,})[._][^/]*$")


def file_hour(key: str) -> datetime | None:
    """The hour a log file's key names (the period its requests occurred in), or None."""
    for pattern, first in ((_LEGACY, 2), (_HIVE_HOUR, 1), (_PATH_HOUR, 1), (_NAME_HOUR, 1)):
        match = pattern.search(key)
        if match:
            y, m, d, h = (int(match.group(first + i)) for i in range(4))
            try:
                return datetime(y, m, d, h)
            except ValueError:
                return None
    return None


def file_distribution(key: str) -> str | None:
    """The distribution ID a key names: the legacy file name's, the Hive partition's, or a v2 file name
    starting with one; None when the records must say it themselves."""
    for pattern in (_LEGACY, _HIVE_DIST, _NAME_DIST):
        match = pattern.search(key)
        if match:
            return match.group(1)
    return None


def files_for_days(keys: list[str], days: list[date]) -> dict[date, list[str]]:
    """Per day, the keys (in the order of ``keys``) that can hold its requests: the files named for the
    day, the day before's 23:00 file and the day after's files; keys naming no hour go to every day."""
    hours = {key: file_hour(key) for key in keys}
    out = {}
    for day in days:
        start = datetime(day.year, day.month, day.day)
        lo, hi = start - timedelta(hours=1), start + timedelta(days=2)
        out[day] = [k for k, h in hours.items() if h is None or lo <= h < hi]
    return out


def own_day(key: str, days: list[date]) -> date:
    """The day whose partition owns a file's quarantined lines: the day its name says, or (no hour in the
    name) the window's first day."""
    hour = file_hour(key)
    return hour.date() if hour is not None else days[0]
