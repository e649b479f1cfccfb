"""The daily report on generated data: its figures are the warehouse's, its tables name the right users,
it is one self-contained file, and a rerun replaces it."""

import re

import dagster as dg

from assets.reports import REPORT_ASSETS
from bucketlens.reports import fmt
from tests.conftest import bucketlens_env
from tests.reports.conftest import UI, report_resources
from tests.reports.helpers import chart_images, check_passed, figures, page, query


def test_the_key_figures_are_the_warehouse_figures_of_the_day(reported):
    home, days, _ = reported
    day = days[-1]
    html = page(home, "daily_report", day)
    stored, objects, requests = query(
        home,
        "SELECT sum(total_bytes), sum(object_count), sum(request_count) FROM usage.service_daily_metrics "
        "WHERE usage_date = ?",
        [day],
    )[0]
    (cost,) = query(home, "SELECT sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date = ?", [day])[0]
    shown = figures(html)
    assert (shown["total_bytes"], shown["object_count"], shown["request_count"]) == (
        stored,
        objects,
        requests,
    )
    assert shown["cost_usd"] == float(cost) and cost > 0
    # What a reader sees: the tile texts, formatted from the same numbers.
    assert f'<div class="value">{fmt.size(stored)}</div>' in html
    assert f'<div class="value">{fmt.usd(cost)}</div>' in html


def test_the_top_tables_lead_with_the_users_the_warehouse_ranks_first(reported):
    home, days, _ = reported
    day = days[-1]
    shown = figures(page(home, "daily_report", day))
    (top_storage,) = query(
        home,
        "SELECT user_id FROM usage.user_daily_storage WHERE usage_date = ? AND user_id <> '_shared' "
        "GROUP BY ALL ORDER BY sum(bytes) DESC, user_id LIMIT 1",
        [day],
    )[0]
    (top_cost,) = query(
        home,
        "SELECT user_id FROM cost.user_daily_cost WHERE usage_date = ? AND user_id <> '_shared' "
        "GROUP BY ALL ORDER BY sum(amount_usd) DESC, user_id LIMIT 1",
        [day],
    )[0]
    assert (shown["top_storage_user"], shown["top_cost_user"]) == (top_storage, top_cost)


def test_todays_flags_are_listed_from_the_anomaly_layer_without_alert_events(reported):
    home, days, _ = reported
    flagged = query(
        home, "SELECT usage_date, count(*) FROM anomaly.abuse_flags GROUP BY ALL ORDER BY 2 DESC LIMIT 1"
    )
    day, flags = flagged[0]
    html = page(home, "daily_report", day)
    assert "source: anomaly.service_anomalies + anomaly.abuse_flags" in html
    assert figures(html)["abuse_flags"] == flags
    patterns = {
        p
        for (p,) in query(
            home, "SELECT DISTINCT pattern FROM anomaly.abuse_flags WHERE usage_date = ?", [day]
        )
    }
    for pattern in patterns:
        assert f"<td>{pattern}</td>" in html


def test_the_page_is_self_contained_with_valid_charts(reported):
    home, days, result = reported
    day = days[-1]
    html = page(home, "daily_report", day)
    link = f"{UI}/assets/daily_report?view=partitions&amp;partition={day.isoformat()}"
    assert re.findall(r'(?:src|href)="(http[^"]*)"', html) == [link]
    assert "<link" not in html and "@import" not in html and "url(" not in html
    images = chart_images(html)
    assert len(images) == 2 and all(img.size == (1200, 320) for img in images)
    assert check_passed(result, "report_written")


def test_a_rerun_replaces_the_page(reported, tiny_s3_source):
    home, days, _ = reported
    day = days[4]
    folder = home / "reports" / "daily_report"
    before = sorted(p.name for p in folder.iterdir())
    old = (folder / f"{day}.html").stat().st_mtime_ns
    with bucketlens_env(home, tiny_s3_source.root, tiny_s3_source.users_db):
        result = dg.materialize(
            [a for a in REPORT_ASSETS if a.key.to_user_string() == "daily_report"],
            partition_key=day.isoformat(),
            resources=report_resources(home),
        )
    assert result.success
    assert sorted(p.name for p in folder.iterdir()) == before == [f"{d}.html" for d in days]
    assert (folder / f"{day}.html").stat().st_mtime_ns > old
