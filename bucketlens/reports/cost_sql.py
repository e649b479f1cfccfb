"""Cost SQL shared by the weekly and monthly reports: a period's cost per day and category, and the
users who cost the most in a period against the period before it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.reports.warehouse import rows

# design §5's categories, in the order charts stack them; "adjustment" carries credits and refunds.
CATEGORIES = ("storage", "requests", "transfer", "retrieval", "adjustment", "other")

CATEGORY_DAYS_SQL = """
SELECT usage_date, category, sum(amount_usd) AS usd, bool_or(is_estimate) AS is_estimate
FROM cost.user_daily_cost WHERE usage_date BETWEEN $start AND $end
GROUP BY usage_date, category ORDER BY usage_date, category
"""

TOP_USERS_SQL = """
WITH spend AS (
    SELECT user_id, category,
           sum(amount_usd) FILTER (WHERE usage_date BETWEEN $start AND $end) AS usd,
           sum(amount_usd) FILTER (WHERE usage_date BETWEEN $prev_start AND $prev_end) AS prev_usd
    FROM cost.user_daily_cost
    WHERE usage_date BETWEEN $prev_start AND $end AND user_id <> '_shared'
    GROUP BY user_id, category
),
per_user AS (
    SELECT user_id, sum(usd) AS usd, sum(prev_usd) AS prev_usd, arg_max(category, usd) AS main_category
    FROM spend GROUP BY user_id
)
SELECT p.user_id, u.plan, p.usd, p.prev_usd, p.main_category
FROM per_user p LEFT JOIN raw.users u ON u.user_id = p.user_id AND u.snapshot_date = $end
WHERE p.usd IS NOT NULL
ORDER BY p.usd DESC, p.user_id LIMIT $limit
"""

REGISTERED_USERS_SQL = """
SELECT count(*) AS users FROM raw.users WHERE snapshot_date = $day
"""


def category_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[date, dict[str, Decimal]]:
    """{day: {category: usd}} for the days with cost rows between ``start`` and ``end``."""
    out: dict[date, dict[str, Decimal]] = {}
    for r in rows(con, CATEGORY_DAYS_SQL, {"start": start, "end": end}):
        out.setdefault(r["usage_date"], {})[r["category"]] = r["usd"]
    return out


def estimated_days(con: duckdb.DuckDBPyConnection, start: date, end: date) -> int:
    found = con.execute(
        "SELECT count(DISTINCT usage_date) FROM cost.user_daily_cost WHERE usage_date BETWEEN ? AND ? AND is_estimate",
        [start, end],
    ).fetchall()
    return int(found[0][0])


def top_users(
    con: duckdb.DuckDBPyConnection, start: date, end: date, prev_start: date, prev_end: date, limit: int = 10
) -> list[dict]:
    params = {"start": start, "end": end, "prev_start": prev_start, "prev_end": prev_end, "limit": limit}
    return rows(con, TOP_USERS_SQL, params)


def registered_users(con: duckdb.DuckDBPyConnection, day: date) -> int:
    return int(rows(con, REGISTERED_USERS_SQL, {"day": day})[0]["users"])


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
