"""savings.weekly_savings_digest: the week's "top savings" Slack digest (``bucketlens.savings.digest``).

Materialized for every day (the digest as of that day, in the metadata); on Sundays the post goes to the
outbox, which delivers it like any notification — once: its identity is its day, so a rerun is refused,
and days older than ``routing.max_alert_age`` (a backfill) are not posted.
"""

import json

import dagster as dg

from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from bucketlens.markdown import escape_markdown
from bucketlens.reports.weekly import is_post_day
from bucketlens.savings.digest import NAME, digest_post, digest_text, savings_week
from resources.outbox import AlertOutbox
from resources.reports import ReportSettings
from resources.rules import RulesFile
from resources.warehouse import Warehouse

CONSISTENT = CheckSpec(
    "digest_adds_up",
    "The digest's total is at least its top opportunities' sum and its top list is in descending order.",
)


@daily_asset(
    NAME,
    "savings",
    checks=(CONSISTENT,),
    deps=("storage_recommendations", "storage_leaks"),
    kinds=("duckdb", "slack"),
)
def weekly_savings_digest(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    outbox: AlertOutbox,
    rules: RulesFile,
    reports: ReportSettings,
) -> dg.MaterializeResult:
    """The top savings as of each day of the window — the users whose best storage-class move saves the
    most (class, age, bytes, saving a month, break-even) and the leaks by type — and, on Sundays, the
    Slack post of it through the outbox (``slack_posts_due``; ``slack_posts_queued`` says how many went)."""
    routing = rules.alerting().routing
    channel = routing.channels["info"]
    results, due = [], []
    with warehouse.connect() as con:
        for day in window_days(context):
            week = savings_week(con, day)
            post = digest_post(week, channel, reports.asset_link(NAME, day.isoformat()))
            if is_post_day(day):
                due.append(post)
            top_sum = sum(float(r["monthly_saving_usd"]) for r in week.top)
            ordered = all(
                a["monthly_saving_usd"] >= b["monthly_saving_usd"]
                for a, b in zip(week.top, week.top[1:], strict=False)
            )
            adds_up = float(week.monthly_saving) + 1e-9 >= top_sum and ordered
            metadata = {
                "monthly_saving_usd": dg.MetadataValue.float(float(week.monthly_saving)),
                "users_recommended": dg.MetadataValue.int(week.users),
                "leak_monthly_usd": dg.MetadataValue.float(float(week.leak_cost)),
                "post_day": dg.MetadataValue.bool(is_post_day(day)),
                "preview": dg.MetadataValue.md(
                    "  \n".join(escape_markdown(line) for line in digest_text(week).splitlines())
                ),
            }
            check = Check(
                adds_up,
                {"total_usd": float(week.monthly_saving), "top_sum_usd": top_sum},
                None if adds_up else "the digest's top list is larger than its total, or out of order",
            )
            results.append(DayResult(day, metadata, {CONSISTENT.name: check}))
    queued = outbox.enqueue_recent(due, routing.max_alert_age)
    results[-1].metadata["slack_posts_queued"] = dg.MetadataValue.int(queued)
    summary = window_result(results)
    summary.metadata["slack_post"] = dg.MetadataValue.json(json.loads(post.to_json()))
    summary.metadata["slack_posts_due"] = dg.MetadataValue.json([json.loads(p.to_json()) for p in due])
    return summary
