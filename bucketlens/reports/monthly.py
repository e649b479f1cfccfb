"""The monthly report: the calendar month containing D, to date — cost, its trend and its month-over-month
change (flagged above the rules file's ratio), plan margins, quota use and abuse, and the savings section
(``bucketlens.reports.savings``). The figures are computed here; ``templates/monthly.html`` lays them out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.reports import charts, fmt
from bucketlens.reports.alerts_today import abuse_by_pattern
from bucketlens.reports.cost_sql import by_category, category_days, registered_users, shares, total
from bucketlens.reports.html import render
from bucketlens.reports.monthly_sql import (
    FULLEST_SQL,
    MONTH_OVER_MONTH_SQL,
    MONTHS_SQL,
    PLAN_MARGIN_SQL,
    QUOTA_SUMMARY_SQL,
)
from bucketlens.reports.report import Report
from bucketlens.reports.savings import savings_figures, savings_section
from bucketlens.reports.warehouse import one, rows

NAME = "monthly_report"


def trend_months(day: date, count: int = 6) -> list[date]:
    """First days of the ``count`` months ending with ``day``'s month, oldest first."""
    index = day.year * 12 + day.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def month_over_month(con: duckdb.DuckDBPyConnection, day: date, ratio: float) -> dict:
    """Month to date against the same days of last month; ``change`` is None without a fair comparison."""
    mom = one(con, MONTH_OVER_MONTH_SQL, {"day": day})
    fair = mom["previous_days"] >= mom["days"] > 0 and (mom["previous_usd"] or 0) > 0
    change = fmt.change(mom["usd"], mom["previous_usd"]) if fair else None
    return {**mom, "change": change, "flagged": change is not None and change > ratio}


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
    savings = savings_section(con, day)

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
        **(savings_figures(savings) if savings["available"] else {}),
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
    title = f"bucketlens monthly report — {day:%B %Y}"
    page = render(
        "monthly.html",
        title=title,
        ui_link=ui_link,
        figures=figures,
        start=start,
        day=day,
        cost=cost,
        days=len(days),
        average=average,
        per_user=per_user,
        users=users,
        categories=categories,
        shares=shares(categories, cost),
        trend=[(m, months.get(m)) for m in trend],
        mom=mom,
        mom_text=mom_text,
        mom_ratio=mom_ratio,
        plans=plans,
        quota=quota,
        fullest=fullest,
        abuse=abuse,
        savings=savings,
        png=png,
    )
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
        + (
            [
                f"- savings: {fmt.usd(figures['savings_monthly_usd'])} a month from storage-class moves "
                f"({figures['savings_users']} users), leaks {fmt.usd(figures['leaks_monthly_usd'], 4)} a month"
            ]
            if savings["available"]
            else []
        )
    )
    return Report(NAME, day, page, figures, preview)
