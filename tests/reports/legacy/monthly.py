"""The monthly report page as the f-string renderer built it (frozen copy, see ``__init__``); the trend
months are the live module's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.reports import fmt
from bucketlens.reports.cost_sql import by_category, total
from bucketlens.reports.monthly import NAME, trend_months
from bucketlens.reports.report import Report
from bucketlens.reports.warehouse import rows
from tests.reports.legacy import charts
from tests.reports.legacy import html as h
from tests.reports.legacy.queries import (
    FULLEST_SQL,
    MONTHS_SQL,
    PLAN_MARGIN_SQL,
    QUOTA_SUMMARY_SQL,
    abuse_by_pattern,
    category_days,
    month_over_month,
    one,
    registered_users,
)


def build_monthly_report(
    con: duckdb.DuckDBPyConnection, day: date, mom_ratio: float, ui_link: str = ""
) -> Report:
    start = day.replace(day=1)
    days = category_days(con, start, day)
    cost, categories = total(days), by_category(days)
    users = registered_users(con, day)
    per_user = (cost / users).quantize(Decimal("0.000001")) if users else None
    average = (cost / len(days)).quantize(Decimal("0.000001")) if days else None
    months = {r["month"]: r for r in rows(con, MONTHS_SQL, {"day": day})}
    trend = trend_months(day)
    mom = month_over_month(con, day, mom_ratio)
    plans = rows(con, PLAN_MARGIN_SQL, {"day": day})
    quota = one(con, QUOTA_SUMMARY_SQL, {"day": day})
    fullest = rows(con, FULLEST_SQL, {"day": day})
    abuse = abuse_by_pattern(con, start, day)
    margin = sum((p["margin_usd"] for p in plans if p["plan"] != "(shared)"), Decimal(0))

    figures: dict[str, float | int] = {
        "month_cost_usd": float(cost),
        "daily_average_usd": float(average or 0),
        "cost_per_user_usd": float(per_user or 0),
        "days": len(days),
        "users": users,
        "month_over_month_flagged": int(mom["flagged"]),
        "plan_margin_usd": float(margin),
        "users_over_80_percent": int(quota.get("over_80") or 0),
        "users_over_quota": int(quota.get("over_100") or 0),
        "abuse_flags": sum(int(a["flags"]) for a in abuse),
    }
    if mom["change"] is not None:
        figures["month_over_month_change"] = round(mom["change"], 6)
    mom_text = (
        f"{fmt.change_text(mom['usd'], mom['previous_usd'])} vs the same {mom['days']} days of last month "
        f"({fmt.usd(mom['previous_usd'])})"
        if mom["change"] is not None
        else "no comparable days last month"
    )
    png = charts.bars(
        "S3 cost per month (current month to date)",
        [f"{m:%b %Y}" for m in trend],
        [float(months[m]["usd"]) if m in months else None for m in trend],
        "usd",
    )
    tiles = [
        h.Tile("Cost, month to date", fmt.usd(cost), f"{len(days)} days", alert=mom["flagged"]),
        h.Tile("Daily average", fmt.usd(average)),
        h.Tile("Cost per user", fmt.usd(per_user, 4), f"{fmt.count(users)} registered users"),
        h.Tile(
            "Month over month",
            fmt.percent(mom["change"], 1),
            "above the threshold" if mom["flagged"] else mom_text,
            alert=mom["flagged"],
        ),
        h.Tile(
            "Users over 80 % of quota",
            fmt.count(quota.get("over_80")),
            f"{fmt.count(quota.get('over_100'))} over quota",
        ),
        h.Tile("Abuse flags this month", str(figures["abuse_flags"]), f"{len(abuse)} patterns"),
    ]
    mom_note = f"Month over month: {mom_text}; flagged above +{100 * mom_ratio:.0f} % (rules: service.month_over_month_cost.ratio)."
    body = [
        h.tiles(tiles),
        h.section(
            "Cost trend",
            h.chart(png, "cost per month over six months"),
            h.note(mom_note),
            h.table(
                ["month", "cost", "days with cost", "estimate"],
                [
                    (
                        f"{m:%B %Y}",
                        fmt.usd(months[m]["usd"]),
                        months[m]["days"],
                        "yes" if months[m]["is_estimate"] else "no",
                    )
                    if m in months
                    else (f"{m:%B %Y}", "no data", "—", "—")
                    for m in trend
                ],
                numeric=(1, 2),
            ),
        ),
        h.section(
            "Cost by category",
            h.table(
                ["category", "cost", "share"],
                [
                    (c, fmt.usd(v, 4), fmt.percent(float(v / cost) if cost else None, 1))
                    for c, v in categories.items()
                ],
                numeric=(1, 2),
            ),
        ),
        h.section(
            "Plan margins, month to date",
            h.table(
                ["plan", "users", "cost", "revenue", "margin", "days", "includes estimates"],
                [
                    (
                        p["plan"],
                        fmt.count(p["users"]),
                        fmt.usd(p["cost_usd"]),
                        fmt.usd(p["revenue_usd"]),
                        fmt.usd(p["margin_usd"]),
                        p["days"],
                        "yes" if p["is_estimate"] else "no",
                    )
                    for p in plans
                ],
                numeric=(1, 2, 3, 4, 5),
            ),
        ),
        h.section(
            "Quota use",
            h.note(
                f"{fmt.count(quota.get('over_80'))} of {fmt.count(quota.get('users'))} users above 80 % of their quota, {fmt.count(quota.get('over_100'))} above 100 %, on {day.isoformat()}."
            ),
            h.table(
                ["user", "plan", "stored", "quota", "use"],
                [
                    (
                        r["user_id"],
                        r["plan"] or "—",
                        fmt.size(r["stored_bytes"]),
                        fmt.size(r["quota_bytes"]),
                        h.Cell(
                            f"{r['quota_use_pct']:.1f} %", "num flag" if r["quota_use_pct"] > 100 else "num"
                        ),
                    )
                    for r in fullest
                ],
                numeric=(2, 3),
            ),
        ),
        h.section(
            "Abuse flags this month",
            h.table(
                ["pattern", "severity", "flags", "users"],
                [(a["pattern"], h.severity(a["severity"]), a["flags"], a["users"]) for a in abuse],
                numeric=(2, 3),
            ),
        ),
    ]
    title = f"bucketlens monthly report — {day:%B %Y}"
    preview = "\n".join(
        [
            f"**{title}** (to {day.isoformat()})",
            "",
            f"- cost month to date: {fmt.usd(cost)} over {len(days)} days (daily average {fmt.usd(average)})",
            f"- cost per user: {fmt.usd(per_user, 4)} ({fmt.count(users)} users)",
            f"- month over month: {mom_text}{' **FLAGGED**' if mom['flagged'] else ''}",
            f"- quota: {fmt.count(quota.get('over_80'))} users above 80 %, {fmt.count(quota.get('over_100'))} above 100 %",
            f"- abuse flags this month: {figures['abuse_flags']}",
        ]
    )
    subtitle = f"{start:%d %B} – {day:%d %B %Y} (UTC), month to date"
    return Report(NAME, day, h.page(title, subtitle, body, ui_link, figures), figures, preview)
