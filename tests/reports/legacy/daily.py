"""The daily report as the f-string renderer built it (frozen copy, see ``__init__``)."""

from __future__ import annotations

from datetime import date

import duckdb

from bucketlens.reports import fmt
from bucketlens.reports.daily import NAME
from bucketlens.reports.report import Report
from bucketlens.reports.warehouse import rows
from tests.reports.legacy import charts
from tests.reports.legacy import html as h
from tests.reports.legacy.queries import (
    SERVICE_DAYS_SQL,
    TOP_COST_SQL,
    TOP_GROWTH_SQL,
    TOP_STORAGE_SQL,
    USER_STORAGE_SQL,
    abuse_by_pattern,
    todays_alerts,
)


def _tiles(today: dict, before: dict, alert_count: int, critical: int) -> list[h.Tile]:
    def tile(label: str, key: str, text) -> h.Tile:
        return h.Tile(
            label, text(today.get(key)), f"{fmt.change_text(today.get(key), before.get(key))} vs day before"
        )

    requests_per_s = None if today.get("request_count") is None else today["request_count"] / 86400
    estimate = " (estimate)" if today.get("is_estimate") else ""
    return [
        tile("Total storage", "total_bytes", fmt.size),
        tile("Objects", "object_count", fmt.count),
        tile("Active users", "active_users", fmt.count),
        h.Tile(
            "Requests",
            fmt.count(today.get("request_count")),
            f"{requests_per_s or 0:,.2f}/s · {fmt.change_text(today.get('request_count'), before.get('request_count'))}",
        ),
        h.Tile(
            "Error rate",
            fmt.percent(today.get("error_rate")),
            f"day before {fmt.percent(before.get('error_rate'))}",
        ),
        h.Tile(
            "Availability",
            fmt.percent(today.get("availability"), 3),
            f"day before {fmt.percent(before.get('availability'), 3)}",
        ),
        tile(f"S3 cost{estimate}", "cost_usd", fmt.usd),
        h.Tile("Alerts today", str(alert_count), f"{critical} critical", alert=critical > 0),
    ]


def _changes_table(today: dict, before: dict) -> str:
    metrics = [
        ("Total storage", "total_bytes", fmt.size),
        ("Objects", "object_count", fmt.count),
        ("Active users", "active_users", fmt.count),
        ("Requests", "request_count", fmt.count),
        ("Error rate", "error_rate", fmt.percent),
        ("Availability", "availability", lambda v: fmt.percent(v, 3)),
        ("Average latency (ms)", "avg_latency_ms", lambda v: "—" if v is None else f"{v:,.0f}"),
        ("S3 cost", "cost_usd", fmt.usd),
    ]
    table_rows = [
        (label, text(before.get(key)), text(today.get(key)), fmt.change_text(today.get(key), before.get(key)))
        for label, key, text in metrics
    ]
    return h.table(["metric", "day before", "today", "change"], table_rows, numeric=(1, 2, 3))


def _user_tables(con: duckdb.DuckDBPyConnection, day: date) -> tuple[str, str, str, dict]:
    con.execute(USER_STORAGE_SQL, {"day": day})
    storage = rows(con, TOP_STORAGE_SQL, {})
    growth = rows(con, TOP_GROWTH_SQL, {})
    cost = rows(con, TOP_COST_SQL, {"day": day})
    pct = lambda v: "—" if v is None else f"{v:.1f} %"  # noqa: E731
    by_storage = h.table(
        ["user", "plan", "stored", "objects", "quota use", "growth today"],
        [
            (
                r["user_id"],
                r["plan"] or "—",
                fmt.size(r["bytes"]),
                fmt.count(r["objects"]),
                pct(r["quota_use_pct"]),
                fmt.size(r["growth"]),
            )
            for r in storage
        ],
        numeric=(2, 3, 4, 5),
    )
    by_growth = h.table(
        ["user", "plan", "growth today", "uploaded today", "stored"],
        [
            (
                r["user_id"],
                r["plan"] or "—",
                fmt.size(r["growth"]),
                fmt.size(r["bytes_added"]),
                fmt.size(r["bytes"]),
            )
            for r in growth
        ],
        numeric=(2, 3, 4),
    )
    by_cost = h.table(
        ["user", "plan", "cost today", "month to date", "largest part"],
        [
            (
                r["user_id"],
                r["plan"] or "—",
                fmt.usd(r["day_usd"], 4),
                fmt.usd(r["mtd_usd"], 4),
                r["main_category"],
            )
            for r in cost
        ],
        numeric=(2, 3),
    )
    leaders = {
        "top_storage_user": storage[0]["user_id"] if storage else "",
        "top_growth_user": growth[0]["user_id"] if growth else "",
        "top_cost_user": cost[0]["user_id"] if cost else "",
    }
    return by_storage, by_growth, by_cost, leaders


def build_daily_report(con: duckdb.DuckDBPyConnection, day: date, ui_link: str = "") -> Report:
    days = rows(con, SERVICE_DAYS_SQL, {"day": day})
    today, before = days[-1], days[-2]
    alerts = todays_alerts(con, day)
    abuse = abuse_by_pattern(con, day, day)
    by_storage, by_growth, by_cost, leaders = _user_tables(con, day)
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
    alert_rows = [
        (r["rule"], h.severity(r["severity"]), r["subject"], r["state"], r["reason"] or "")
        for r in alerts.rows
    ]
    body = [
        h.tiles(_tiles(today, before, len(alerts.rows), critical)),
        h.section(
            "Storage",
            h.chart(storage_png, "total storage over the last 30 days"),
            h.chart(cost_png, "S3 cost per day"),
        ),
        h.section("Day over day", _changes_table(today, before)),
        h.section(
            "Today's alerts",
            h.note(f"source: {alerts.source}"),
            h.table(["rule", "severity", "subject", "state", "reason"], alert_rows),
        ),
        h.section(
            "Abuse flags today",
            h.table(
                ["pattern", "severity", "flags", "users"],
                [(a["pattern"], h.severity(a["severity"]), a["flags"], a["users"]) for a in abuse],
                numeric=(2, 3),
            ),
        ),
        h.section("Top 10 users by storage", by_storage),
        h.section("Top 10 users by growth", by_growth),
        h.section(
            "Top 10 users by cost",
            by_cost,
            h.note("cost attributed to _shared (no user caused it) is not listed"),
        ),
    ]
    title = f"bucketlens daily report — {day.isoformat()}"
    subtitle = f"{day:%A %d %B %Y} (UTC) · {'cost estimated from the price book' if today.get('is_estimate') else 'cost from the bill'}"
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
    return Report(
        NAME,
        day,
        h.page(title, subtitle, body, ui_link, figures={**figures, **leaders}),
        figures,
        preview,
    )
