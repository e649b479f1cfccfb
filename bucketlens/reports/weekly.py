"""The weekly cost summary: the 7 days ending D against the 7 days before, and the Slack post for it.

It is materialized for every day (as "the 7 days ending D"); on a Sunday those 7 days are the ISO week,
which is when the schedule posts it to Slack. The page is ``templates/weekly.html``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import duckdb

from bucketlens.alerts.notification import Notification, report_post
from bucketlens.markdown import escape_markdown
from bucketlens.reports import charts, fmt
from bucketlens.reports.chart_helpers import draw_all
from bucketlens.reports.cost_sql import (
    CATEGORIES,
    CostDays,
    by_category,
    registered_users,
    shares,
    top_users,
    total,
)
from bucketlens.reports.html import render
from bucketlens.reports.report import Report

NAME = "weekly_cost_summary"
CHART = "cost_by_category"
CHANNEL = "#storage-info"


@dataclass(frozen=True)
class WeekCost:
    """The figures of one weekly summary (and of its Slack post)."""

    day: date  # the last day of the 7
    cost: Decimal
    previous_cost: Decimal | None  # None unless all 7 days before have cost rows (no partial comparison)
    categories: dict[str, Decimal]
    users: int
    estimated_days: int
    top: list[dict]
    per_day: dict[date, dict[str, Decimal]] = field(default_factory=dict)  # {day: {category: usd}}

    @property
    def start(self) -> date:
        return self.day - timedelta(days=6)

    @property
    def label(self) -> str:
        """ "ISO week 2026-W47" when the 7 days are an ISO week (D is a Sunday), else the date range."""
        iso = self.day.isocalendar()
        if iso.weekday == 7:
            return f"ISO week {iso.year}-W{iso.week:02d}"
        return f"7 days {self.start.isoformat()} – {self.day.isoformat()}"

    @property
    def change(self) -> float | None:
        return fmt.change(self.cost, self.previous_cost)

    @property
    def cost_per_user(self) -> Decimal | None:
        return (self.cost / self.users).quantize(Decimal("0.000001")) if self.users else None


def week_costs(con: duckdb.DuckDBPyConnection, days: Sequence[date]) -> Iterator[WeekCost]:
    """The weekly figures of each day of a window, from one query per figure for the whole window."""
    cost = CostDays(con, days[0] - timedelta(days=13), days[-1])
    users = registered_users(con, days)
    top = top_users(con, days)
    for day in days:
        start = day - timedelta(days=6)
        week = cost.between(start, day)
        previous = cost.between(day - timedelta(days=13), day - timedelta(days=7))
        yield WeekCost(
            day=day,
            cost=total(week),
            previous_cost=total(previous) if len(previous) == 7 else None,
            categories=by_category(week),
            users=users[day],
            estimated_days=cost.estimated_days(start, day),
            top=top[day],
            per_day=week,
        )


def build_weekly_reports(
    con: duckdb.DuckDBPyConnection, days: Sequence[date], ui_link: Callable[[date], str] = lambda _: ""
) -> Iterator[tuple[Report, WeekCost]]:
    """Each day's page (and its figures, for the Slack post), rendered from the window's figures; the
    window's charts are drawn first, all together (``chart_helpers``: on every core)."""
    weeks = list(week_costs(con, days))
    for week, png in zip(weeks, draw_all([weekly_chart(w) for w in weeks]), strict=True):
        yield weekly_page(week, png, ui_link(week.day)), week


def weekly_chart(week: WeekCost) -> charts.Chart:
    """The cost of each of the 7 days, stacked by category."""
    dates = [week.start + timedelta(days=i) for i in range(7)]
    labels = [f"{d:%a %m-%d}" for d in dates]
    # design §5's categories, then any other present (CloudFront's 'cdn'), so the bars add up to the week
    extra = sorted({c for cats in week.per_day.values() for c in cats} - set(CATEGORIES))
    stacks = {c: [float(week.per_day.get(d, {}).get(c, 0)) for d in dates] for c in (*CATEGORIES, *extra)}
    return charts.Chart(
        "stacked_bars", (f"S3 cost per day by category — {week.label}", labels, stacks, "usd")
    )


def weekly_page(week: WeekCost, png: bytes | None = None, ui_link: str = "") -> Report:
    """The page of the 7 days ending ``week.day`` (``png``: ``weekly_chart`` drawn; drawn here if None)."""
    days = week.per_day
    dates = [week.start + timedelta(days=i) for i in range(7)]
    png = png if png is not None else weekly_chart(week).png()
    figures: dict[str, float | int] = {
        "week_cost_usd": float(week.cost),
        "cost_per_user_usd": float(week.cost_per_user or 0),
        "users": week.users,
        "estimated_days": week.estimated_days,
        **{f"{c}_usd": float(v) for c, v in week.categories.items()},
    }
    if week.previous_cost is not None:
        figures["previous_week_cost_usd"] = float(week.previous_cost)
    if week.change is not None:
        figures["week_over_week_change"] = round(week.change, 6)
    title = f"bucketlens weekly cost summary — {week.label}"
    page = render(
        "weekly.html",
        title=title,
        ui_link=ui_link,
        figures=figures,
        week=week,
        shares=shares(week.categories, week.cost),
        categories=CATEGORIES,
        per_day=[
            {"day": d, "usd": days.get(d, {}), "total": sum(days.get(d, {}).values(), Decimal(0))}
            for d in dates
        ],
        png=png,
    )
    # user ids are the service's users' own text: shown literally (bucketlens.markdown)
    preview = f"**{title}**\n\n" + "  \n".join(
        escape_markdown(line) for line in summary_text(week).splitlines()
    )
    return Report(NAME, week.day, page, figures, preview, {CHART: png})


def summary_text(week: WeekCost) -> str:
    """The words of the summary, shared by the page preview and the Slack post."""
    change = fmt.change_text(week.cost, week.previous_cost)
    previous = f" ({fmt.usd(week.previous_cost)} the 7 days before)" if week.previous_cost is not None else ""
    parts = " · ".join(f"{c} {fmt.usd(v)}" for c, v in week.categories.items() if v)
    top = ", ".join(f"{r['user_id']} {fmt.usd(r['usd'])}" for r in week.top[:3]) or "none"
    lines = [
        f"S3 cost {week.label}: {fmt.usd(week.cost)}, {change}{previous}.",
        f"By category: {parts or 'no cost'}.",
        f"Cost per user: {fmt.usd(week.cost_per_user, 4)} over {fmt.count(week.users)} users.",
        f"Top users: {top}.",
    ]
    if week.estimated_days:
        lines.append(f"{week.estimated_days} of the 7 days are price-book estimates (no bill yet).")
    return "\n".join(lines)


def is_post_day(day: date) -> bool:
    """Sundays: the 7 days ending then are an ISO week, the week the post is about (the savings digest
    posts on the same days)."""
    return day.isoweekday() == 7


def weekly_post(week: WeekCost, chart_path: str, link: str = "") -> Notification:
    """The Slack post of a weekly summary: one per week-ending day (the identity), so a rerun of the
    partition cannot post twice; the chart goes with it as a file."""
    text = summary_text(week) + (f"\nReport: {link}" if link else "")
    return report_post(NAME, week.day, CHANNEL, f"Weekly S3 cost summary — {week.label}", text, chart_path)
