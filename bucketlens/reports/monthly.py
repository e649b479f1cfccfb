"""The monthly report: the calendar month containing D, to date — cost, its trend and its month-over-month
change (flagged above the rules file's ratio), plan margins, quota use and abuse, and the savings section
(``bucketlens.reports.savings``). The figures are read for all the days of a run by the window queries in
``sql/`` (``monthly_*``) and computed here; ``templates/monthly.html`` lays them out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.reports import charts, fmt
from bucketlens.reports.alerts_today import abuse_by_pattern
from bucketlens.reports.cdn import cdn_month_by_day
from bucketlens.reports.chart_helpers import draw_all
from bucketlens.reports.cost_sql import CostDays, by_category, registered_users, shares, total
from bucketlens.reports.html import render
from bucketlens.reports.report import Report
from bucketlens.reports.savings import savings_figures, savings_sections
from bucketlens.reports.warehouse import report_sql, rows_by_day, window

NAME = "monthly_report"
MONTHS_SQL = report_sql("monthly_months")
MONTH_OVER_MONTH_SQL = report_sql("monthly_month_over_month")
PLAN_MARGIN_SQL = report_sql("monthly_plan_margin")
QUOTA_SQL = report_sql("monthly_quota")
FULLEST_SQL = report_sql("monthly_fullest")


def trend_months(day: date, count: int = 6) -> list[date]:
    """First days of the ``count`` months ending with ``day``'s month, oldest first."""
    index = day.year * 12 + day.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def month_over_month(con: duckdb.DuckDBPyConnection, days: Sequence[date], ratio: float) -> dict[date, dict]:
    """Each day's month to date against the same days of last month; ``change`` is None without a fair
    comparison, ``flagged`` when it rises above ``ratio``."""
    out = {}
    for day, (mom,) in rows_by_day(con, MONTH_OVER_MONTH_SQL, window(days), days).items():
        fair = mom["previous_days"] >= mom["days"] > 0 and (mom["previous_usd"] or 0) > 0
        change = fmt.change(mom["usd"], mom["previous_usd"]) if fair else None
        out[day] = {**mom, "change": change, "flagged": change is not None and change > ratio}
    return out


@dataclass(frozen=True)
class MonthlyFigures:
    """What one day's page shows, as read for the whole window: a section of the page is one more
    field here, one more window query in ``monthly_figures`` and one more block in the template."""

    day: date
    users: int
    cost_days: dict[date, dict[str, Decimal]]  # {day: {category: usd}} of the month to date
    months: list[dict]  # cost per month, the six months ending with this one
    mom: dict
    plans: list[dict]
    quota: dict
    fullest: list[dict]
    abuse: list[dict]
    savings: dict  # the savings section as of the day (bucketlens.reports.savings)
    cdn_users: list[dict] = field(default_factory=list)  # month-to-date CloudFront cost per user; [] without


def monthly_figures(
    con: duckdb.DuckDBPyConnection, days: Sequence[date], mom_ratio: float
) -> Iterator[MonthlyFigures]:
    """Each day's figures, from one query per figure for the whole window."""
    params = window(days)
    cost = CostDays(con, days[0].replace(day=1), days[-1])
    users = registered_users(con, days)
    months = rows_by_day(con, MONTHS_SQL, params, days)
    mom = month_over_month(con, days, mom_ratio)
    plans = rows_by_day(con, PLAN_MARGIN_SQL, params, days)
    quota = rows_by_day(con, QUOTA_SQL, params, days)
    fullest = rows_by_day(con, FULLEST_SQL, params, days)
    abuse = abuse_by_pattern(con, days, month_to_date=True)
    savings = savings_sections(con, days)
    cdn = cdn_month_by_day(con, days)
    for day in days:
        yield MonthlyFigures(
            day=day,
            users=users[day],
            cost_days=cost.between(day.replace(day=1), day),
            months=months[day],
            mom=mom[day],
            plans=plans[day],
            quota=quota[day][0],
            fullest=fullest[day],
            abuse=abuse[day],
            savings=savings[day],
            cdn_users=cdn[day],
        )


def build_monthly_reports(
    con: duckdb.DuckDBPyConnection,
    days: Sequence[date],
    mom_ratio: float,
    ui_link: Callable[[date], str] = lambda _: "",
) -> Iterator[Report]:
    """Each day's page, rendered from the window's figures; the window's charts are drawn first, all
    together (``chart_helpers``: on every core)."""
    figures = list(monthly_figures(con, days, mom_ratio))
    for f, png in zip(figures, draw_all([monthly_chart(f) for f in figures]), strict=True):
        yield monthly_page(f, mom_ratio, png, ui_link(f.day))


def monthly_chart(f: MonthlyFigures) -> charts.Chart:
    """The cost of each of the six months ending the day's (its month to date)."""
    months = {r["month"]: r for r in f.months}
    trend = trend_months(f.day)
    return charts.Chart(
        "bars",
        (
            "S3 cost per month (current month to date)",
            [f"{m:%b %Y}" for m in trend],
            [float(months[m]["usd"]) if m in months else None for m in trend],
            "usd",
        ),
    )


def monthly_page(f: MonthlyFigures, mom_ratio: float, png: bytes | None = None, ui_link: str = "") -> Report:
    """The day's page (``png``: ``monthly_chart`` drawn; drawn here if None)."""
    day, days, users, mom, plans, quota, fullest, abuse = (
        f.day, f.cost_days, f.users, f.mom, f.plans, f.quota, f.fullest, f.abuse
    )  # fmt: skip
    start = day.replace(day=1)
    cost, categories = total(days), by_category(days)
    per_user = (cost / users).quantize(Decimal("0.000001")) if users else None
    average = (cost / len(days)).quantize(Decimal("0.000001")) if days else None
    months = {r["month"]: r for r in f.months}
    trend = trend_months(day)
    margin = sum((p["margin_usd"] for p in plans if p["plan"] != "(shared)"), Decimal(0))
    savings = f.savings
    cdn_usd = sum((r["cdn_usd"] for r in f.cdn_users), Decimal(0))
    cdn_per_user = (cdn_usd / users).quantize(Decimal("0.000001")) if users and f.cdn_users else None

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
        **(
            {"cdn_cost_usd": float(cdn_usd), "cdn_cost_per_user_usd": float(cdn_per_user or 0)}
            if f.cdn_users
            else {}
        ),
    }
    if mom["change"] is not None:
        figures["month_over_month_change"] = round(mom["change"], 6)
    mom_text = (
        f"{fmt.change_text(mom['usd'], mom['previous_usd'])} vs the same {mom['days']} days of last month "
        f"({fmt.usd(mom['previous_usd'])})"
        if mom["change"] is not None
        else "no comparable days last month"
    )
    png = png if png is not None else monthly_chart(f).png()
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
        cdn_users=[r for r in f.cdn_users if r["user_id"] != "_shared"][:10],
        cdn_shared=next((r["cdn_usd"] for r in f.cdn_users if r["user_id"] == "_shared"), None),
        cdn_usd=cdn_usd,
        cdn_per_user=cdn_per_user,
        has_cdn=bool(f.cdn_users),
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
        + (
            [f"- CDN (CloudFront) cost: {fmt.usd(cdn_usd)} ({fmt.usd(cdn_per_user, 4)} per user)"]
            if f.cdn_users
            else []
        )
    )
    return Report(NAME, day, page, figures, preview)
