"""The weekly cost summary page as the f-string renderer built it (frozen copy, see ``__init__``).
The preview's words (``summary_text``) are the live module's."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb

from bucketlens.markdown import escape_markdown
from bucketlens.reports import fmt
from bucketlens.reports.cost_sql import CATEGORIES
from bucketlens.reports.report import Report
from bucketlens.reports.weekly import CHART, NAME, WeekCost, summary_text
from tests.reports.legacy import charts
from tests.reports.legacy import html as h
from tests.reports.legacy.queries import week_cost


def build_weekly_report(
    con: duckdb.DuckDBPyConnection, day: date, ui_link: str = ""
) -> tuple[Report, WeekCost]:
    week, days = week_cost(con, day)
    dates = [week.start + timedelta(days=i) for i in range(7)]
    labels = [f"{d:%a %m-%d}" for d in dates]
    stacks = {c: [float(days.get(d, {}).get(c, 0)) for d in dates] for c in CATEGORIES}
    png = charts.stacked_bars(f"S3 cost per day by category — {week.label}", labels, stacks, "usd")
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
    tiles = [
        h.Tile(
            "Cost, 7 days",
            fmt.usd(week.cost),
            f"{fmt.change_text(week.cost, week.previous_cost)} vs 7 days before",
        ),
        h.Tile("Previous 7 days", fmt.usd(week.previous_cost)),
        h.Tile("Cost per user", fmt.usd(week.cost_per_user, 4), f"{fmt.count(week.users)} registered users"),
        h.Tile(
            "Estimated days",
            str(week.estimated_days),
            "priced from the price book" if week.estimated_days else "all billed",
        ),
    ]
    breakdown = h.table(
        ["category", "cost", "share"],
        [
            (c, fmt.usd(v, 4), fmt.percent(float(v / week.cost) if week.cost else None, 1))
            for c, v in week.categories.items()
        ]
        + [(h.Cell("total", "flag"), fmt.usd(week.cost, 4), "")],
        numeric=(1, 2),
    )
    per_day = h.table(
        ["day", *CATEGORIES, "total"],
        [
            (
                f"{d:%a %Y-%m-%d}",
                *(fmt.usd(days.get(d, {}).get(c), 4) for c in CATEGORIES),
                fmt.usd(sum(days.get(d, {}).values(), Decimal(0)), 4),
            )
            for d in dates
        ],
        numeric=tuple(range(1, len(CATEGORIES) + 2)),
    )
    top = h.table(
        ["user", "plan", "cost", "7 days before", "change", "largest part"],
        [
            (
                r["user_id"],
                r["plan"] or "—",
                fmt.usd(r["usd"], 4),
                fmt.usd(r["prev_usd"], 4),
                fmt.change_text(r["usd"], r["prev_usd"]),
                r["main_category"],
            )
            for r in week.top
        ],
        numeric=(2, 3, 4),
    )
    body = [
        h.tiles(tiles),
        h.section("Cost by category", h.chart(png, "cost per day by category"), breakdown),
        h.section("Per day", per_day),
        h.section("Top 10 users by cost", top, h.note("_shared (cost no user caused) is not listed")),
    ]
    title = f"bucketlens weekly cost summary — {week.label}"
    # user ids are the service's users' own text: shown literally (bucketlens.markdown)
    preview = f"**{title}**\n\n" + "  \n".join(
        escape_markdown(line) for line in summary_text(week).splitlines()
    )
    report = Report(
        NAME,
        day,
        h.page(title, f"{week.start:%d %b} – {day:%d %b %Y} (UTC)", body, ui_link, figures),
        figures,
        preview,
        {CHART: png},
    )
    return report, week
