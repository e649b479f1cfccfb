"""The daily report: how the service stands on day D, what changed since the day before, who stores,
grows and costs the most, and what was alerted.

Every figure comes from the warehouse tables of design §5 through ``daily_sql``; this module computes
them and draws the charts, ``templates/daily.html`` lays them out as tiles and tables.
"""

from __future__ import annotations

from datetime import date

import duckdb

from bucketlens.reports import charts, fmt
from bucketlens.reports.actions_today import todays_actions
from bucketlens.reports.alerts_today import abuse_by_pattern, todays_alerts
from bucketlens.reports.daily_sql import (
    SERVICE_DAYS_SQL,
    TOP_COST_SQL,
    TOP_GROWTH_SQL,
    TOP_STORAGE_SQL,
    USER_STORAGE_SQL,
)
from bucketlens.reports.html import render
from bucketlens.reports.report import Report
from bucketlens.reports.warehouse import rows

NAME = "daily_report"


def build_daily_report(con: duckdb.DuckDBPyConnection, day: date, ui_link: str = "") -> Report:
    days = rows(con, SERVICE_DAYS_SQL, {"day": day})
    today, before = days[-1], days[-2]
    alerts = todays_alerts(con, day)
    abuse = abuse_by_pattern(con, day, day)
    actions = todays_actions(con, day)
    con.execute(USER_STORAGE_SQL, {"day": day})
    storage = rows(con, TOP_STORAGE_SQL, {})
    growth = rows(con, TOP_GROWTH_SQL, {})
    cost = rows(con, TOP_COST_SQL, {"day": day})
    labels = [d["usage_date"].strftime("%m-%d") for d in days]
    storage_png = charts.line_chart(
        "Total storage, last 30 days", labels, {"stored bytes": [d["total_bytes"] for d in days]}, "bytes"
    )
    cost_png = charts.bars("S3 cost per day, last 30 days", labels, [d["cost_usd"] for d in days], "usd")
    critical = alerts.count("critical")
    figures = {
        "total_bytes": int(today["total_bytes"] or 0),
        "object_count": int(today["object_count"] or 0),
        "active_users": int(today["active_users"] or 0),
        "request_count": int(today["request_count"] or 0),
        "error_rate": float(today["error_rate"] or 0.0),
        "availability": float(today["availability"] or 0.0),
        "cost_usd": float(today["cost_usd"] or 0),
        "storage_growth_bytes": int(
            (today["total_bytes"] or 0) - (before["total_bytes"] or today["total_bytes"] or 0)
        ),
        "alerts": len(alerts.rows),
        "critical_alerts": critical,
        "abuse_flags": sum(int(a["flags"]) for a in abuse),
    }
    leaders = {
        "top_storage_user": storage[0]["user_id"] if storage else "",
        "top_growth_user": growth[0]["user_id"] if growth else "",
        "top_cost_user": cost[0]["user_id"] if cost else "",
    }
    title = f"bucketlens daily report — {day.isoformat()}"
    page = render(
        "daily.html",
        title=title,
        ui_link=ui_link,
        figures={**figures, **leaders},
        day=day,
        today=today,
        before=before,
        requests_per_s=None if today["request_count"] is None else today["request_count"] / 86400,
        alerts=alerts,
        critical=critical,
        abuse=abuse,
        actions=actions,
        storage=storage,
        growth=growth,
        cost=cost,
        storage_png=storage_png,
        cost_png=cost_png,
    )
    preview = "\n".join(
        [
            f"**{title}**",
            "",
            "| figure | value | vs day before |",
            "|---|---|---|",
            f"| storage | {fmt.size(today['total_bytes'])} | {fmt.change_text(today['total_bytes'], before['total_bytes'])} |",
            f"| objects | {fmt.count(today['object_count'])} | {fmt.change_text(today['object_count'], before['object_count'])} |",
            f"| active users | {fmt.count(today['active_users'])} | {fmt.change_text(today['active_users'], before['active_users'])} |",
            f"| S3 cost | {fmt.usd(today['cost_usd'])} | {fmt.change_text(today['cost_usd'], before['cost_usd'])} |",
            f"| alerts | {len(alerts.rows)} ({critical} critical) | |",
        ]
    )
    return Report(NAME, day, page, figures, preview)
