"""The weekly cost summary, its Slack post, and the monthly report on generated data."""

import io
import json
from datetime import timedelta

from PIL import Image

from bucketlens.alerts.notification import Notification
from bucketlens.reports import fmt
from tests.reports.conftest import UI
from tests.reports.helpers import chart_images, check_passed, figures, materialization, page, query


def test_the_weekly_summary_adds_up_the_seven_days_ending_on_its_day(reported):
    home, days, _ = reported
    day = days[-1]
    (week,) = query(
        home,
        "SELECT sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date BETWEEN ? AND ?",
        [day - timedelta(days=6), day],
    )[0]
    by_category = dict(
        query(
            home,
            "SELECT category, sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
            [day - timedelta(days=6), day],
        )
    )
    html = page(home, "weekly_cost_summary", day)
    shown = figures(html)
    assert shown["week_cost_usd"] == float(week) and week > 0
    assert sum(shown[f"{c}_usd"] for c in by_category) == sum(float(v) for v in by_category.values())
    assert shown["storage_usd"] == float(by_category["storage"])
    # Only three days before the window exist: no week-over-week figure rather than a misleading one.
    assert "week_over_week_change" not in shown and "previous_week_cost_usd" not in shown
    assert f'<div class="value">{fmt.usd(week)}</div>' in html
    (chart,) = chart_images(html)
    assert chart.size == (1200, 320)


def test_the_weekly_post_names_the_iso_week_and_attaches_the_chart(reported):
    home, days, result = reported
    sunday = next(d for d in days if d.isoweekday() == 7)
    (week,) = query(
        home,
        "SELECT sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date BETWEEN ? AND ?",
        [sunday - timedelta(days=6), sunday],
    )[0]
    metadata = materialization(result, "weekly_cost_summary")
    per_day = metadata["per_day"]
    assert per_day[str(sunday)]["week_cost_usd"] == float(week)
    # The range run's metadata holds the last day's post; rebuild the Sunday's post from the pure core.
    import duckdb

    from bucketlens.reports.weekly import week_costs, weekly_post

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        (summary,) = week_costs(con, [sunday])
    finally:
        con.close()
    chart = home / "reports" / "weekly_cost_summary" / f"{sunday}.cost_by_category.png"
    link = f"{UI}/assets/weekly_cost_summary?view=partitions&partition={sunday}"
    post = weekly_post(summary, str(chart), link)
    iso = sunday.isocalendar()
    assert post.identity == f"weekly_cost_summary:{sunday}"
    assert (post.kind, post.severity, post.channel) == ("report", "info", "#storage-info")
    assert post.title == f"Weekly S3 cost summary — ISO week {iso.year}-W{iso.week:02d}"
    assert post.text.startswith(f"S3 cost ISO week {iso.year}-W{iso.week:02d}: {fmt.usd(week)},")
    assert post.text.endswith(f"Report: {link}") and post.attachment_path == str(chart)
    assert Image.open(io.BytesIO(chart.read_bytes())).size == (1200, 320)
    assert Notification.from_json(post.to_json()) == post  # storable in the outbox as is
    last = metadata["slack_post"]
    assert last["identity"] == f"weekly_cost_summary:{days[-1]}" and last["attachment_path"].endswith(".png")
    (due,) = metadata["slack_posts_due"]  # one Sunday in the ten days
    assert Notification.from_json(json.dumps(due)) == Notification(
        **{**post.__dict__, "created_at": due["created_at"]}
    )


def test_the_monthly_report_has_the_month_to_date_cost_and_missing_months_as_missing(reported):
    home, days, result = reported
    day = days[-1]
    cost, n_days = query(
        home,
        "SELECT sum(amount_usd), count(DISTINCT usage_date) FROM cost.user_daily_cost "
        "WHERE usage_date BETWEEN date_trunc('month', ?::DATE) AND ?",
        [day, day],
    )[0]
    over_80, over_100 = query(
        home,
        "SELECT count(*) FILTER (WHERE quota_use_pct > 80), count(*) FILTER (WHERE quota_use_pct > 100) "
        "FROM cost.user_quota_use WHERE usage_date = ?",
        [day],
    )[0]
    (flags,) = query(home, "SELECT count(*) FROM anomaly.abuse_flags WHERE usage_date <= ?", [day])[0]
    html = page(home, "monthly_report", day)
    shown = figures(html)
    assert shown["month_cost_usd"] == float(cost) and shown["days"] == n_days == len(days)
    assert shown["daily_average_usd"] == round(float(cost) / n_days, 6)
    assert (shown["users_over_80_percent"], shown["users_over_quota"]) == (over_80, over_100)
    assert shown["abuse_flags"] == flags > 0
    # The five months before the data starts are "no data", not $0.00; no comparison is made.
    assert html.count(">no data</td>") == 5 and "month_over_month_change" not in shown
    assert "no comparable days last month" in html
    assert len(chart_images(html)) == 1
    assert check_passed(result, "report_written")
