"""The CDN sections of the reports (issue 20): the daily report's hit ratio and CDN egress (service and
top users), the monthly report's and the statements' CDN cost per user — and none of it for a source
without CloudFront data (the generated month of ``reported`` has none)."""

import csv
import shutil
from decimal import Decimal

import duckdb

from assets.usage.service_daily_cdn import TABLE_DDL as SERVICE_CDN_DDL
from assets.usage.user_daily_cdn import TABLE_DDL as USER_CDN_DDL
from bucketlens.reports.daily import build_daily_reports
from bucketlens.reports.monthly import build_monthly_reports
from bucketlens.reports.statements import write_statements
from tests.reports.helpers import page
from tests.rows import insert_rows


def test_without_cloudfront_the_pages_have_no_cdn_section(reported):
    home, days, _ = reported
    for report in ("daily_report", "monthly_report"):
        html = page(home, report, days[-1])
        assert "CDN (CloudFront)" not in html and "CDN egress" not in html


def _with_cdn(home, tmp_path, day):
    """A copy of the generated warehouse with hand-made CloudFront rows on ``day``."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(home / "warehouse.duckdb", path)
    con = duckdb.connect(str(path))
    for ddl in (USER_CDN_DDL, SERVICE_CDN_DDL):
        con.execute(ddl)
    insert_rows(
        con,
        "INSERT INTO usage.user_daily_cdn (usage_date, user_id, distribution_id, edge_region, requests, bytes_sent, "
        "hits, misses) VALUES (?, ?, 'E1', ?, ?, ?, ?, ?)",
        [
            (day, "cdnfan", "US", 900, 3 * 2**30, 800, 100),
            (day, "cdnfan", "EU", 100, 2**30, 100, 0),
            (day, "quiet", "US", 10, 2**20, 5, 5),
        ],  # fmt: skip
    )
    con.execute(
        "INSERT INTO usage.service_daily_cdn (usage_date, distribution_id, requests, bytes_downloaded, error_rate, "
        "cache_hit_rate, cache_hit_rate_source) VALUES (?, 'E1', 1010, ?, 0.02, 0.895, 'cloudwatch')",
        [day, 4 * 2**30 + 2**20],
    )
    insert_rows(
        con,
        "INSERT INTO cost.user_daily_cost (usage_date, user_id, category, storage_class, amount_usd, is_estimate, "
        "driver, usage_type) VALUES (?, ?, 'cdn', NULL, ?, false, 'cdn_bytes', 'US-DataTransfer-Out-Bytes')",
        [(day, "cdnfan", Decimal("0.340000")), (day, "quiet", Decimal("0.000100")), (day, "_shared", Decimal("0.050000"))],
    )  # fmt: skip
    return con


def test_daily_monthly_and_statements_show_the_cdn(reported, tmp_path):
    home, days, _ = reported
    day = days[-1]
    con = _with_cdn(home, tmp_path, day)
    (daily,) = build_daily_reports(con, [day])
    # the service: 1,010 requests, 4 GiB + 1 MiB, hit ratio 89.50 % (CloudWatch), CDN cost 0.3901
    assert daily.figures["cdn_hit_ratio"] == 0.895 and daily.figures["cdn_bytes"] == 4 * 2**30 + 2**20
    assert "<h2>CDN (CloudFront)</h2>" in daily.html and "89.50 %" in daily.html
    assert '<div class="value">$0.39</div>' in daily.html  # 0.34 + 0.0001 + 0.05
    # top users by bytes: cdnfan 4 GiB (hit ratio 900 / 1,000 = 90.00 %), then quiet; _shared not listed
    top = daily.html.split("Top 10 users by CDN egress")[1].split("</table>")[0]
    assert top.index("<td>cdnfan</td>") < top.index("<td>quiet</td>") and "90.00 %" in top
    assert "| CDN hit ratio | 89.50 % |" in daily.preview
    # S3 cost excludes CloudFront's: the figure is the non-cdn categories
    (s3,) = con.execute(
        "SELECT sum(amount_usd) FROM cost.user_daily_cost WHERE usage_date = ? AND category <> 'cdn'", [day]
    ).fetchall()[0]
    assert daily.figures["cost_usd"] == float(s3)

    (monthly,) = build_monthly_reports(con, [day], 0.2)
    assert monthly.figures["cdn_cost_usd"] == 0.3901
    section = monthly.html.split("CDN (CloudFront), month to date")[1].split("</section>")[0]
    assert (
        '<td>cdnfan</td><td class="num">$0.3400</td>' in section
        and "_shared" not in section.split("<table>")[1]
    )

    statements = write_statements(con, day, tmp_path / "reports")
    with open(statements.csv, newline="") as f:
        rows = {r["user_id"]: r for r in csv.DictReader(f)}
    assert (rows["cdnfan"]["cost_cdn_usd"], rows["cdnfan"]["cdn_requests"], rows["cdnfan"]["cdn_bytes_sent"]) == (
        "0.340000", "1000", str(4 * 2**30))  # fmt: skip
    assert Decimal(rows["_shared"]["cost_cdn_usd"]) == Decimal("0.05")
