"""The savings section of the monthly report: the storage-class moves that pay (best class per user), the
leaks to clean up, and the runbooks' KPIs against their targets — as of the report's day.

Its own query module (``bucketlens.savings.savings_sql``) and template (``templates/savings.html``,
included by ``monthly.html``); a report built before the savings layer ran has no such section.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.savings.savings_sql import (
    BY_CLASS_SQL,
    KPI_MONTH_SQL,
    KPIS,
    LEAK_TOTALS_SQL,
    LEAKS,
    RECOMMENDATIONS,
    TOP_LEAKS_SQL,
    TOP_SAVINGS_SQL,
    TOTALS_SQL,
    USER_LEAKS_SQL,
    USER_SAVINGS_SQL,
    exists,
    rows,
)
from bucketlens.usage import SERVICE_KPIS

TOP = 10


def savings_section(con: duckdb.DuckDBPyConnection, day: date) -> dict:
    """Everything ``savings.html`` shows, and the figures the report adds to its own."""
    params = {"day": day, "top": TOP}
    totals = rows(con, TOTALS_SQL, params)
    leaks = rows(con, LEAK_TOTALS_SQL, params)
    kpis = {r["kpi"]: r for r in rows(con, KPI_MONTH_SQL, params)}
    total = totals[0] if totals and totals[0]["rows"] else None
    return {
        "available": total is not None or bool(leaks) or bool(kpis),
        "totals": total,
        "top": rows(con, TOP_SAVINGS_SQL, params),
        "by_class": rows(con, BY_CLASS_SQL, params),
        "leaks": leaks,
        "leak_cost": sum((Decimal(str(r["usd"] or 0)) for r in leaks), Decimal(0)),
        "top_leaks": rows(con, TOP_LEAKS_SQL, params),
        "kpis": [kpis[k] for k in SERVICE_KPIS if k in kpis],
    }


def savings_sections(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> dict[date, dict]:
    """Each day's section; before the savings layer has run, an empty one for every day without a query
    per day (the section's own queries are per day: a few rows each, read from small tables)."""
    if not any(exists(con, table) for table in (RECOMMENDATIONS, LEAKS, KPIS)):
        empty = {"available": False, "totals": None, "top": [], "by_class": [], "leaks": []}
        return {day: empty | {"leak_cost": Decimal(0), "top_leaks": [], "kpis": []} for day in days}
    return {day: savings_section(con, day) for day in days}


def savings_figures(section: dict) -> dict[str, float | int]:
    """The section's key figures for the report's metadata (plotted across partitions in the UI)."""
    total = section["totals"] or {}
    return {
        "savings_monthly_usd": float(total.get("saving") or 0),
        "savings_users": int(total.get("users") or 0),
        "leaks_monthly_usd": float(section["leak_cost"]),
        "kpis_missing_target": sum(1 for k in section["kpis"] if k["days_missed"]),
    }


USER_SAVINGS = "report_user_savings"
USER_SAVINGS_DDL = (
    f"CREATE OR REPLACE TEMP TABLE {USER_SAVINGS} (user_id VARCHAR, recommended_class VARCHAR, "
    "recommended_saving_usd DECIMAL(18, 6), leak_bytes BIGINT, leak_monthly_usd DECIMAL(18, 6))"
)


def stage_user_savings(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """TEMP table ``report_user_savings``: each user's best recommended storage-class move and leaks as of
    ``day``, for the statements (empty before the savings layer has run)."""
    con.execute(USER_SAVINGS_DDL)
    if exists(con, RECOMMENDATIONS) and exists(con, LEAKS):
        con.execute(
            f"INSERT INTO {USER_SAVINGS} SELECT user_id, m.recommended_class, m.recommended_saving_usd, "
            f"l.leak_bytes, l.leak_monthly_usd FROM ({USER_SAVINGS_SQL}) m FULL OUTER JOIN ({USER_LEAKS_SQL}) l "
            "USING (user_id)",
            {"day": day},
        )
