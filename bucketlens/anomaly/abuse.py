"""Abuse flags: the fixed-threshold user patterns of design §7, each with the evidence to act on it.

A flag is only useful if support can see *why* without re-running anything, so every flag carries JSON
evidence naming the rows it rests on (request ids, object keys and version ids, IPs) and the table they
live in. Each pattern is one set-based statement over a window of days (``$start`` to ``$end``; a single
day is a window of one) that finds every day's flags at once, each day exactly as if it were run alone;
the day is the day the evidence happened in its source:

* access-log patterns (rapid upload, daily volume, sharing abuse, failed-access storm, large retrieval) use the request
  time, so the flag lands on the day the requests were made;
* inventory patterns (duplicate data, non-photo content, large object) look at the objects that are new
  in snapshot D, i.e. last modified on D-1 (the report lists the bucket at D 00:00). Each object is new
  in exactly one snapshot, so these flag an upload once, on the first report that shows it;
* state patterns (over plan limit, quota > 80 %) hold for as long as the condition does and are flagged
  every day it holds (the UI shows the current state; alerting de-duplicates).

The '_shared' owner (objects outside users/) is never flagged.
"""

from __future__ import annotations

from datetime import date

from bucketlens.anomaly.abuse_sql import (
    DAILY_UPLOAD_SQL,
    DUPLICATE_SQL,
    FAILED_ACCESS_SQL,
    LARGE_ACCOUNT_SQL,
    LARGE_OBJECT_SQL,
    LARGE_RETRIEVAL_SQL,
    MONTHLY_COST_SQL,
    NEW_OBJECTS,
    NEW_OBJECTS_SQL,
    NON_PHOTO_SQL,
    OUTPUT_DDL,
    OVER_PLAN_SQL,
    QUOTA_SQL,
    RAPID_UPLOAD_SQL,
    REQUESTS,
    SHARING_SQL,
    UPLOAD_OPERATIONS,
)
from bucketlens.anomaly.cdn import stage_hotlinking
from bucketlens.anomaly.rules import Rules
from bucketlens.anomaly.sources import DEFAULT_SOURCES, SHARED_USER, Sources, identifier

PATTERNS = (
    "rapid_upload",
    "daily_upload_volume",
    "duplicate_data",
    "non_photo_content",
    "sharing_abuse",
    "failed_access_storm",
    "large_object",
    "over_plan_limit",
    "quota_80_percent",
    "large_account",
    "monthly_cost",
    "large_retrieval",
    "cdn_hotlinking",
)


def _statements(rules: Rules, names: dict[str, str]) -> list[tuple[str, dict]]:
    """Each pattern's SQL with exactly the parameters it binds."""
    a = rules.abuse
    requests = REQUESTS.format(**names, lead="1 HOUR")
    requests_day = REQUESTS.format(**names, lead="0 HOUR")
    fmt = {**names, "requests": requests_day, "new_objects": NEW_OBJECTS}
    npc = a.non_photo_content
    return [
        (
            RAPID_UPLOAD_SQL.format(**{**fmt, "requests": requests}),
            {
                "operations": UPLOAD_OPERATIONS,
                "threshold": a.rapid_upload.bytes_per_hour,
                "severity": a.rapid_upload.severity,
            },
        ),
        (
            DAILY_UPLOAD_SQL.format(**fmt),
            {
                "operations": UPLOAD_OPERATIONS,
                "threshold": a.daily_upload_volume.bytes_per_day,
                "severity": a.daily_upload_volume.severity,
            },
        ),
        (
            SHARING_SQL.format(**fmt),
            {
                "max_ips": a.sharing_abuse.max_distinct_ips,
                "max_agents": a.sharing_abuse.max_distinct_user_agents,
                "severity": a.sharing_abuse.severity,
            },
        ),
        (
            FAILED_ACCESS_SQL.format(**fmt),
            {
                "threshold": a.failed_access_storm.max_denied_requests,
                "severity": a.failed_access_storm.severity,
            },
        ),
        (
            LARGE_OBJECT_SQL.format(**fmt),
            {"threshold": a.large_object.object_bytes, "severity": a.large_object.severity},
        ),
        (
            NON_PHOTO_SQL.format(**fmt),
            {
                "media": list(npc.media_extensions),
                "photo": list(npc.photo_extensions),
                "max_photo_bytes": npc.max_photo_bytes,
                "min_object_bytes": npc.min_object_bytes,
                "min_objects": npc.min_objects,
                "min_bytes": npc.min_bytes,
                "severity": npc.severity,
            },
        ),
        (
            DUPLICATE_SQL.format(**fmt),
            {
                "min_wasted": a.duplicate_data.min_wasted_bytes,
                "min_copies": a.duplicate_data.min_copies,
                "severity": a.duplicate_data.severity,
            },
        ),
        (
            OVER_PLAN_SQL.format(**fmt),
            {
                "plans": list(a.over_plan_limit.plan_limits),
                "limits": list(a.over_plan_limit.plan_limits.values()),
                "severity": a.over_plan_limit.severity,
            },
        ),
        (
            QUOTA_SQL.format(**fmt),
            {"percent": a.quota_80_percent.percent, "severity": a.quota_80_percent.severity},
        ),
        (
            LARGE_ACCOUNT_SQL.format(**fmt),
            {"threshold": a.large_account.stored_bytes, "severity": a.large_account.severity},
        ),
        (
            MONTHLY_COST_SQL.format(**fmt),
            {"threshold": a.monthly_cost.usd_per_month, "severity": a.monthly_cost.severity},
        ),
        (
            LARGE_RETRIEVAL_SQL.format(**fmt),
            {"threshold": a.large_retrieval.bytes_per_day, "severity": a.large_retrieval.severity},
        ),
    ]


def stage_abuse_flags_window(
    con,
    start: date,
    end: date,
    rules: Rules,
    out: str = "stage_abuse_flags",
    sources: Sources = DEFAULT_SOURCES,
) -> dict[str, int]:
    """Create TEMP table ``out`` with the abuse flags of every day from ``start`` to ``end``; returns the
    number of flags per pattern over the window."""
    names = {**sources.sql(), "out": identifier(out), "shared": SHARED_USER}
    window = {"start": start, "end": end}
    con.execute(OUTPUT_DDL.format(out=names["out"]))
    con.execute(NEW_OBJECTS_SQL.format(**names, new_objects=NEW_OBJECTS), window)
    try:
        for sql, params in _statements(rules, names):
            # patterns over the staged new objects name no day: DuckDB refuses a parameter never used
            con.execute(sql, {**{k: v for k, v in window.items() if f"${k}" in sql}, **params})
        stage_hotlinking(con, window, rules, names)  # CloudFront: only where the CDN tables exist
    finally:
        con.execute(f"DROP TABLE IF EXISTS {NEW_OBJECTS}")
    counts = dict(con.execute(f"SELECT pattern, count(*) FROM {names['out']} GROUP BY pattern").fetchall())
    return {p: int(counts.get(p, 0)) for p in PATTERNS}


def stage_abuse_flags(
    con, day: date, rules: Rules, out: str = "stage_abuse_flags", sources: Sources = DEFAULT_SOURCES
) -> dict[str, int]:
    """Create TEMP table ``out`` with the day's abuse flags; returns the number of flags per pattern."""
    return stage_abuse_flags_window(con, day, day, rules, out, sources)
