"""The weekly "top savings" digest: the users whose storage could cost the least to fix for the most, and
the leaks to clean up, as of a day — posted to Slack on Sundays through the alert outbox.

Like the weekly cost summary, it is one post per week-ending day (its identity), so rerunning the
partition cannot post twice, and a backfill of old weeks posts nothing (``max_alert_age``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb

from bucketlens.alerts.notification import Notification, report_post
from bucketlens.savings.savings_sql import LEAK_TOTALS_SQL, TOP_SAVINGS_SQL, TOTALS_SQL, rows

NAME = "weekly_savings_digest"
TOP = 10


@dataclass(frozen=True)
class SavingsWeek:
    """The figures of one digest (and of its Slack post)."""

    day: date
    monthly_saving: Decimal  # the best recommended class of every user, summed
    transition_cost: Decimal
    users: int
    previous_saving: Decimal | None  # the same figure 7 days before, when that day has recommendations
    top: list[dict]
    leaks: list[dict]  # per leak type: users, bytes, monthly cost

    @property
    def leak_cost(self) -> Decimal:
        return sum((Decimal(str(r["usd"])) for r in self.leaks), Decimal(0))


def savings_week(con: duckdb.DuckDBPyConnection, day: date, top: int = TOP) -> SavingsWeek:
    now = rows(con, TOTALS_SQL, {"day": day})
    before = rows(con, TOTALS_SQL, {"day": day - timedelta(days=7)})
    return SavingsWeek(
        day=day,
        monthly_saving=Decimal(now[0]["saving"]) if now else Decimal(0),
        transition_cost=Decimal(now[0]["transition"]) if now else Decimal(0),
        users=int(now[0]["users"]) if now else 0,
        previous_saving=Decimal(before[0]["saving"]) if before and before[0]["rows"] else None,
        top=rows(con, TOP_SAVINGS_SQL, {"day": day, "top": top}),
        leaks=rows(con, LEAK_TOTALS_SQL, {"day": day}),
    )


def _usd(value: object, places: int = 2) -> str:
    return f"${Decimal(str(value or 0)):,.{places}f}"


def _gib(n: object) -> str:
    return f"{int(n or 0) / 2**30:,.1f} GiB"


def digest_text(week: SavingsWeek) -> str:
    """The words of the digest (the Slack post and the metadata preview)."""
    change = ""
    if week.previous_saving is not None:
        change = f" ({_usd(week.previous_saving)} a week ago)"
    lines = [
        f"Storage savings as of {week.day.isoformat()}: {_usd(week.monthly_saving)} a month across "
        f"{week.users:,} users{change}, for {_usd(week.transition_cost)} of one-time transition fees.",
    ]
    if week.top:
        lines.append("Top opportunities (best class per user):")
        for r in week.top:
            lines.append(
                f"• user {r['user_id']}: {r['storage_class']} after {r['transition_age_days']} days, "
                f"{_gib(r['bytes'])}, saves {_usd(r['monthly_saving_usd'], 4)}/month, "
                f"paid back in {r['break_even_months']} months"
            )
    else:
        lines.append("No storage-class move pays for itself yet.")
    if week.leaks:
        parts = ", ".join(
            f"{r['leak_type'].replace('_', ' ')}: {int(r['users']):,} users, {_gib(r['bytes'])}, {_usd(r['usd'], 4)}/month"
            for r in week.leaks
        )
        lines.append(f"Leaks to clean up ({_usd(week.leak_cost, 4)}/month): {parts}.")
    return "\n".join(lines)


def digest_post(week: SavingsWeek, channel: str, link: str = "") -> Notification:
    text = digest_text(week) + (f"\nDetails: {link}" if link else "")
    return report_post(NAME, week.day, channel, f"Weekly top savings — {week.day.isoformat()}", text)
