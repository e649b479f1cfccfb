"""The daily report: how the service stands on day D, what changed since the day before, who stores,
grows and costs the most, and what was alerted.

Every figure comes from the warehouse tables of design §5 through the window queries in ``sql/``
(``daily_*``), read once for all the days of a run; this module draws each day's charts and
``templates/daily.html`` lays its figures out as tiles and tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from bucketlens.reports import charts, fmt
from bucketlens.reports.actions_today import actions_by_day
from bucketlens.reports.alerts_today import DayAlerts, abuse_by_pattern, alerts_by_day
from bucketlens.reports.cdn import CdnDay, cdn_by_day
from bucketlens.reports.chart_helpers import draw_all
from bucketlens.reports.html import render
from bucketlens.reports.report import Report
from bucketlens.reports.warehouse import report_sql, rows_by_day, window

NAME = "daily_report"

SERVICE_DAYS_SQL = report_sql("daily_service_days")
USER_STORAGE_SQL = report_sql("daily_user_storage")  # the temp table report_user_storage
TOP_STORAGE_SQL = """
SELECT * FROM report_user_storage
QUALIFY row_number() OVER (PARTITION BY day ORDER BY bytes DESC, user_id) <= 10
ORDER BY day, bytes DESC, user_id
"""
TOP_GROWTH_SQL = """
SELECT * FROM report_user_storage WHERE growth > 0
QUALIFY row_number() OVER (PARTITION BY day ORDER BY growth DESC, user_id) <= 10
ORDER BY day, growth DESC, user_id
"""
TOP_COST_SQL = report_sql("daily_top_cost")


@dataclass(frozen=True)
class DailyFigures:
    """What one day's page shows, as read for the whole window."""

    day: date
    days: list[dict]  # the service on each of the 30 days ending ``day``, oldest first
    alerts: DayAlerts
    abuse: list[dict]
    actions: list[dict]  # the response actions decided on the day's data
    storage: list[dict]  # the top 10 users by storage, by growth and by cost
    growth: list[dict]
    cost: list[dict]
    cdn: CdnDay = CdnDay()  # CloudFront: no service figures without CloudFront data (no CDN section)


def daily_figures(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> Iterator[DailyFigures]:
    """Each day's figures, from one query per figure for the whole window."""
    params = window(days)
    service = rows_by_day(con, SERVICE_DAYS_SQL, params, days)
    alerts = alerts_by_day(con, days)
    abuse = abuse_by_pattern(con, days)
    actions = actions_by_day(con, days)
    con.execute(USER_STORAGE_SQL, params)
    storage = rows_by_day(con, TOP_STORAGE_SQL, {}, days)
    growth = rows_by_day(con, TOP_GROWTH_SQL, {}, days)
    cost = rows_by_day(con, TOP_COST_SQL, params, days)
    cdn = cdn_by_day(con, days)
    for day in days:
        yield DailyFigures(
            day, service[day], alerts[day], abuse[day], actions[day], storage[day], growth[day], cost[day],
            cdn[day],
        )  # fmt: skip


def build_daily_reports(
    con: duckdb.DuckDBPyConnection, days: Sequence[date], ui_link: Callable[[date], str] = lambda _: ""
) -> Iterator[Report]:
    """Each day's page, rendered from the window's figures; the window's charts are drawn first, all
    together (``chart_helpers``: on every core)."""
    figures = list(daily_figures(con, days))
    drawn = draw_all([chart for f in figures for chart in daily_charts(f)])
    for f, storage_png, cost_png in zip(figures, drawn[0::2], drawn[1::2], strict=True):
        yield daily_page(f, (storage_png, cost_png), ui_link(f.day))


def daily_charts(f: DailyFigures) -> tuple[charts.Chart, charts.Chart]:
    """The page's two charts: storage and cost over the 30 days ending the day."""
    labels = [d["usage_date"].strftime("%m-%d") for d in f.days]
    return (
        charts.Chart(
            "line_chart",
            (
                "Total storage, last 30 days",
                labels,
                {"stored bytes": [d["total_bytes"] for d in f.days]},
                "bytes",
            ),
        ),
        charts.Chart(
            "bars", ("S3 cost per day, last 30 days", labels, [d["cost_usd"] for d in f.days], "usd")
        ),
    )


def daily_page(f: DailyFigures, pngs: tuple[bytes, bytes] | None = None, ui_link: str = "") -> Report:
    """The day's page (``pngs``: its charts as ``daily_charts`` gives them, drawn; drawn here if None)."""
    day, days, alerts, abuse = f.day, f.days, f.alerts, f.abuse
    today, before = days[-1], days[-2]
    storage_png, cost_png = pngs or tuple(c.png() for c in daily_charts(f))
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
    cdn = f.cdn.service
    if cdn:
        figures |= {"cdn_requests": int(cdn["requests"] or 0), "cdn_bytes": int(cdn["bytes"] or 0)}
        if cdn["hit_rate"] is not None:
            figures["cdn_hit_ratio"] = round(float(cdn["hit_rate"]), 6)
    leaders = {
        "top_storage_user": f.storage[0]["user_id"] if f.storage else "",
        "top_growth_user": f.growth[0]["user_id"] if f.growth else "",
        "top_cost_user": f.cost[0]["user_id"] if f.cost else "",
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
        actions=f.actions,
        storage=f.storage,
        growth=f.growth,
        cost=f.cost,
        cdn=f.cdn,
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
        + (
            [
                f"| CDN egress | {fmt.size(cdn['bytes'])} | |",
                f"| CDN hit ratio | {fmt.percent(cdn['hit_rate'])} | |",
            ]
            if cdn
            else []
        )
    )
    return Report(NAME, day, page, figures, preview)
