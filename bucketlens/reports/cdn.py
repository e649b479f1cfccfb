"""The CDN (CloudFront) figures of the reports: the service's hit ratio and egress per day and
distribution, the users who pull the most bytes through it, and CDN cost per user for a period.

Why apart from the page modules: the daily and monthly pages share these queries, and both must render
cleanly for a source without CloudFront data — every function returns empty figures when the CDN tables
do not exist (a warehouse built before issue 20) or have no rows, and the templates then leave the CDN
section out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb

from bucketlens.reports.warehouse import has_columns, rows_by_day, window

SERVICE_SQL = """
SELECT usage_date, sum(requests) AS requests, sum(bytes_downloaded) AS bytes, count(*) AS distributions,
       sum(cache_hit_rate * requests) FILTER (WHERE cache_hit_rate IS NOT NULL)
         / nullif(sum(requests) FILTER (WHERE cache_hit_rate IS NOT NULL), 0) AS hit_rate,
       sum(error_rate * requests) FILTER (WHERE error_rate IS NOT NULL)
         / nullif(sum(requests) FILTER (WHERE error_rate IS NOT NULL), 0) AS error_rate
FROM usage.service_daily_cdn WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date ORDER BY usage_date
"""
DISTRIBUTIONS_SQL = """
SELECT usage_date, distribution_id, requests, bytes_downloaded AS bytes, cache_hit_rate AS hit_rate,
       cache_hit_rate_source, error_rate
FROM usage.service_daily_cdn WHERE usage_date BETWEEN $start AND $end
ORDER BY usage_date, bytes_downloaded DESC NULLS LAST, distribution_id
"""
# The top 10 users of each day by bytes sent through the CDN, with their CDN cost of the day.
TOP_USERS_SQL = """
WITH u AS (
    SELECT usage_date, user_id, sum(requests) AS requests, sum(bytes_sent) AS bytes,
           sum(hits) / nullif(sum(hits) + sum(misses), 0) AS hit_ratio
    FROM usage.user_daily_cdn WHERE usage_date BETWEEN $start AND $end AND user_id <> '_shared' GROUP BY ALL
),
c AS (
    SELECT usage_date, user_id, sum(amount_usd) AS cdn_usd FROM cost.user_daily_cost
    WHERE usage_date BETWEEN $start AND $end AND category = 'cdn' GROUP BY ALL
)
SELECT u.usage_date, u.user_id, u.requests, u.bytes, u.hit_ratio, c.cdn_usd
FROM u LEFT JOIN c USING (usage_date, user_id)
QUALIFY row_number() OVER (PARTITION BY u.usage_date ORDER BY u.bytes DESC, u.user_id) <= 10
ORDER BY u.usage_date, u.bytes DESC, u.user_id
"""
# For each report day D: the month-to-date (first of D's month .. D) CDN cost per user (cost.user_daily_cost
# category 'cdn', _shared included) with their CDN requests and bytes, largest cost first.
MONTH_USERS_SQL = """
WITH report_days AS (
    SELECT d::DATE AS day FROM generate_series($start::TIMESTAMP, $end::TIMESTAMP, INTERVAL 1 DAY) t(d)
),
c AS (
    SELECT usage_date, user_id, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN date_trunc('month', $start::DATE) AND $end AND category = 'cdn' GROUP BY ALL
),
u AS (
    SELECT usage_date, user_id, sum(requests) AS requests, sum(bytes_sent) AS bytes FROM usage.user_daily_cdn
    WHERE usage_date BETWEEN date_trunc('month', $start::DATE) AND $end GROUP BY ALL
),
j AS (SELECT * FROM c FULL JOIN u USING (usage_date, user_id))
SELECT r.day, j.user_id, coalesce(sum(j.usd), 0) AS cdn_usd, sum(j.requests) AS requests, sum(j.bytes) AS bytes,
       coalesce(bool_or(j.is_estimate), false) AS is_estimate
FROM report_days r JOIN j ON j.usage_date BETWEEN date_trunc('month', r.day) AND r.day
GROUP BY r.day, j.user_id
ORDER BY r.day, cdn_usd DESC, bytes DESC NULLS LAST, j.user_id
"""


@dataclass(frozen=True)
class CdnDay:
    """One day's CDN figures; ``service`` is None when the day has no CloudFront data."""

    service: dict | None = None
    distributions: list[dict] = field(default_factory=list)
    top_users: list[dict] = field(default_factory=list)


def has_cdn(con: duckdb.DuckDBPyConnection) -> bool:
    return has_columns(con, "usage.service_daily_cdn", "cache_hit_rate") and has_columns(
        con, "usage.user_daily_cdn", "bytes_sent"
    )


def cdn_by_day(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[date, CdnDay]:
    """Each report day's CDN figures, one query per figure for the whole window."""
    if not has_cdn(con):
        return {day: CdnDay() for day in days}
    params = window(days)
    service = rows_by_day(con, SERVICE_SQL, params, days)
    distributions = rows_by_day(con, DISTRIBUTIONS_SQL, params, days)
    top = rows_by_day(con, TOP_USERS_SQL, params, days)
    return {
        day: CdnDay(service[day][0] if service[day] else None, distributions[day], top[day]) for day in days
    }


def cdn_month_by_day(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[date, list[dict]]:
    """For each report day, the month to date's CDN cost per user (``_shared`` included), largest first;
    [] for every day without CloudFront."""
    if not has_cdn(con):
        return {day: [] for day in days}
    return rows_by_day(con, MONTH_USERS_SQL, window(days), days)
