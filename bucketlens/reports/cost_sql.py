"""Cost figures shared by the weekly and monthly reports, read once for a window of report days: cost
per day and category, the days priced from the price book, registered users, and the users who cost the
most in a period against the period before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.reports.warehouse import report_sql, rows, rows_by_day, window

# design §5's categories, in the order charts stack them; "adjustment" carries credits and refunds.
CATEGORIES = ("storage", "requests", "transfer", "retrieval", "adjustment", "other")

CATEGORY_DAYS_SQL = """
SELECT usage_date, category, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
FROM cost.user_daily_cost WHERE usage_date BETWEEN $start AND $end
GROUP BY usage_date, category ORDER BY usage_date, category
"""

REGISTERED_USERS_SQL = """
SELECT snapshot_date, count(*) AS users FROM raw.users WHERE snapshot_date BETWEEN $start AND $end
GROUP BY snapshot_date
"""

TOP_USERS_SQL = report_sql("weekly_top_users")


class CostDays:
    """Cost per day and category over a span of days, read in one query; each report day takes its
    period from it (``between``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, start: date, end: date) -> None:
        self.usd: dict[date, dict[str, Decimal]] = {}
        self.estimated: set[date] = set()
        for r in rows(con, CATEGORY_DAYS_SQL, {"start": start, "end": end}):
            self.usd.setdefault(r["usage_date"], {})[r["category"]] = r["usd"]
            if r["is_estimate"]:
                self.estimated.add(r["usage_date"])

    def between(self, start: date, end: date) -> dict[date, dict[str, Decimal]]:
        """{day: {category: usd}} for the days with cost rows from ``start`` to ``end`` (both included)."""
        return {d: cats for d, cats in self.usd.items() if start <= d <= end}

    def estimated_days(self, start: date, end: date) -> int:
        """Days from ``start`` to ``end`` with a price-book estimate among their cost rows."""
        return sum(1 for d in self.estimated if start <= d <= end)


def registered_users(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[date, int]:
    """Users in the users table's snapshot of each day (0 for a day without a snapshot)."""
    found = rows_by_day(con, REGISTERED_USERS_SQL, window(days), days)
    return {day: int(r[0]["users"]) if r else 0 for day, r in found.items()}


def top_users(
    con: duckdb.DuckDBPyConnection, days: Sequence[date], limit: int = 10
) -> dict[date, list[dict]]:
    """For each day D: the users who cost the most in D-6..D, with their cost of D-13..D-7."""
    return rows_by_day(con, TOP_USERS_SQL, {**window(days), "limit": limit}, days)


def total(days: dict[date, dict[str, Decimal]]) -> Decimal:
    return sum((usd for cats in days.values() for usd in cats.values()), Decimal(0))


def by_category(days: dict[date, dict[str, Decimal]]) -> dict[str, Decimal]:
    """Totals per category, every category of ``CATEGORIES`` present (zero when it had no cost)."""
    out = {c: Decimal(0) for c in CATEGORIES}
    for cats in days.values():
        for c, usd in cats.items():
            out[c] = out.get(c, Decimal(0)) + usd
    return out


def shares(categories: dict[str, Decimal], cost: Decimal) -> dict[str, Decimal | None]:
    """Each category's part of ``cost``; None when there is no cost to share (not 0 % of nothing)."""
    return {c: v / cost if cost else None for c, v in categories.items()}
