"""reports.weekly_cost_summary: the cost of the 7 days ending on the partition's day, with its chart and
the Slack post that goes with it (``weekly_post``; posted on Sundays, when the 7 days are an ISO week)."""

import json

import dagster as dg

from assets.reports.publish import REPORT_WRITTEN, publish, ui_links
from assets.window import daily_asset, window_days, window_result
from bucketlens.alerts.notification import Notification
from bucketlens.reports.weekly import CHART, NAME, build_weekly_reports, is_post_day, weekly_post
from resources.outbox import AlertOutbox
from resources.reports import ReportSettings
from resources.rules import RulesFile
from resources.warehouse import Warehouse


@daily_asset(
    NAME,
    "reports",
    checks=(REPORT_WRITTEN,),
    deps=("user_daily_cost", "users"),
    kinds=("duckdb", "html"),
)
def weekly_cost_summary(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    reports: ReportSettings,
    outbox: AlertOutbox,
    rules: RulesFile,
) -> dg.MaterializeResult:
    """One page per day D about D-6..D: cost and its change against the 7 days before, a stacked bar
    per day by category (also written as a PNG for Slack), cost per user and the top 10 cost users.
    The metadata carries the last day's Slack post (``slack_post``) and the posts of the window's Sundays,
    the days a post is due (``slack_posts_due``); those within ``max_alert_age`` go to the outbox (a
    backfill of old weeks posts nothing), once each: the post's identity is its week."""
    results, due = [], []
    with warehouse.connect() as con:
        links = ui_links(reports, NAME)
        for report, week in build_weekly_reports(con, window_days(context), links):
            result, charts = publish(report, reports, links(week.day))
            post = weekly_post(week, str(charts[CHART]), links(week.day))
            result.metadata["chart_path"] = dg.MetadataValue.path(str(charts[CHART]))
            if is_post_day(week.day):
                due.append(json.loads(post.to_json()))
            results.append(result)
    posts = [Notification.from_json(json.dumps(p)) for p in due]
    queued = outbox.enqueue_recent(posts, rules.alerting().routing.max_alert_age)
    results[-1].metadata["slack_posts_queued"] = dg.MetadataValue.int(queued)
    summary = window_result(results)
    summary.metadata["slack_post"] = dg.MetadataValue.json(json.loads(post.to_json()))
    summary.metadata["slack_posts_due"] = dg.MetadataValue.json(due)
    return summary
