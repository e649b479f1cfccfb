"""The reports' pure parts on hand-made data: charts, the template environment, outside URLs, the alert
source, month over month."""

import io
import tomllib
from datetime import date, timedelta
from decimal import Decimal
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path

import duckdb
import jinja2
import pytest
from PIL import Image

from bucketlens.reports import charts
from bucketlens.reports import html as h
from bucketlens.reports.alerts_today import abuse_by_pattern, alerts_by_day
from bucketlens.reports.cost_sql import top_users
from bucketlens.reports.daily import TOP_COST_SQL
from bucketlens.reports.monthly import month_over_month, trend_months
from bucketlens.reports.warehouse import rows_by_day, window
from tests.rows import insert_rows


def test_a_chart_is_the_same_png_for_the_same_data():
    labels = ["10-01", "10-02", "10-03"]
    first = charts.line_chart("stored", labels, {"bytes": [1.0e12, None, 1.2e12]}, "bytes")
    assert first == charts.line_chart("stored", labels, {"bytes": [1.0e12, None, 1.2e12]}, "bytes")
    assert first != charts.line_chart("stored", labels, {"bytes": [1.0e12, 1.1e12, 1.2e12]}, "bytes")
    image = Image.open(io.BytesIO(first))
    assert (image.format, image.size) == ("PNG", (1200, 320))
    assert "Software" not in image.info  # no version stamp that would change the bytes


def test_stacked_bars_take_credits_below_zero():
    png = charts.stacked_bars("cost", ["a", "b"], {"storage": [2.0, 3.0], "adjustment": [-1.0, 0.0]})
    assert Image.open(io.BytesIO(png)).size == (1200, 320)


def test_only_the_ui_link_leaves_the_page_and_escaped_text_is_not_a_url():
    link = "http://127.0.0.1:3000/a?b=1&c=2"
    doc = f'<a href="{link.replace("&", "&amp;")}">x</a><p>&lt;img src=&quot;http://evil/x&quot;&gt;</p>'
    assert h.external_urls(doc, allowed=[link]) == []  # the escaped tag is text, not an image
    assert h.external_urls(doc) == [link]
    assert h.external_urls('<img src="data:image/png;base64,AA"><img src="https://cdn.example/x.png">') == [
        "https://cdn.example/x.png"
    ]


def test_the_templates_escape_values_and_refuse_undefined_names():
    assert (
        h.ENV.from_string("<td>{{ v }}</td>").render(v='<img src="x">')
        == "<td>&lt;img src=&#34;x&#34;&gt;</td>"
    )
    with pytest.raises(jinja2.UndefinedError, match="'missing' is undefined"):
        h.ENV.from_string("<td>{{ missing }}</td>").render()


def test_every_template_is_shipped_as_package_data():
    """setuptools copies only files matching ``[tool.setuptools.package-data]`` into a wheel; without
    ``*.html`` there the installed package would have no templates (checked with ``build_py``)."""
    patterns = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]["package-data"]["*"]
    templates = files("bucketlens.reports") / "templates"
    names = sorted(t.name for t in templates.iterdir())
    assert names == ["base.html", "daily.html", "macros.html", "monthly.html", "savings.html", "weekly.html"]
    assert [n for n in names if not any(fnmatch(n, p) for p in patterns)] == []


def _anomaly_tables(con):
    con.execute("CREATE SCHEMA anomaly")
    con.execute(
        "CREATE TABLE anomaly.abuse_flags AS SELECT DATE '2026-10-05' AS usage_date, '42' AS user_id, "
        "'rapid_upload' AS pattern, 'critical' AS severity, 150.0 AS value, 100.0 AS threshold"
    )
    con.execute(
        "CREATE TABLE anomaly.service_anomalies AS SELECT DATE '2026-10-05' AS usage_date, 'b' AS bucket, "
        "'latency' AS metric, 'warning' AS severity, 2500.0 AS value, 2000.0 AS threshold, 'slow' AS reason"
    )


def test_alerts_come_from_alert_events_once_that_table_exists():
    con = duckdb.connect()
    _anomaly_tables(con)
    day, quiet = date(2026, 10, 5), date(2026, 10, 4)  # a window of two days, one without detections
    fallback = alerts_by_day(con, [quiet, day])
    assert {d: a.source for d, a in fallback.items()} == {
        d: "anomaly.service_anomalies + anomaly.abuse_flags" for d in (quiet, day)
    }
    assert fallback[quiet].rows == []
    assert [(r["rule"], r["subject"]) for r in fallback[day].rows] == [
        ("rapid_upload", "user 42"),
        ("latency", "bucket b"),
    ]
    con.execute("CREATE SCHEMA alerts")
    con.execute(
        "CREATE TABLE alerts.alert_events AS SELECT 'k1' AS alert_key, 'user_rapid_upload' AS rule, "
        "'critical' AS severity, 'user 42' AS subject, 'firing' AS state, 150.0 AS value, 100.0 AS threshold, "
        "DATE '2026-10-05' AS usage_date, 'uploaded 150 GB in an hour' AS reason"
    )
    events = alerts_by_day(con, [quiet, day])
    assert events[day].source == "alerts.alert_events" and events[day].count("critical") == 1
    assert events[day].rows[0]["reason"] == "uploaded 150 GB in an hour"
    assert events[quiet].rows == [] and events[quiet].source == "alerts.alert_events"


def _daily_cost(con, rows):
    con.execute("CREATE SCHEMA IF NOT EXISTS cost")
    con.execute("CREATE OR REPLACE TABLE cost.user_daily_cost (usage_date DATE, amount_usd DECIMAL(18, 6))")
    insert_rows(con, "INSERT INTO cost.user_daily_cost VALUES (?, ?)", rows)


def test_month_over_month_compares_the_same_days_and_flags_above_the_ratio():
    con = duckdb.connect()
    september = [(date(2026, 9, d), "10.000000") for d in range(1, 31)]
    october = [(date(2026, 10, d), "12.500000") for d in range(1, 6)]  # +25 %
    _daily_cost(con, september + october)
    days = [date(2026, 9, 29) + timedelta(days=i) for i in range(7)]  # Sep 29 .. Oct 5, one query
    mom = month_over_month(con, days, 0.2)
    # September has no August to compare with; each October day compares with as many September days.
    assert [(mom[d]["days"], mom[d]["previous_days"]) for d in days] == [
        (29, 0), (30, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)
    ]  # fmt: skip
    assert [mom[d]["change"] for d in days[:2]] == [None, None]
    assert all(round(mom[d]["change"], 6) == 0.25 and mom[d]["flagged"] is True for d in days[2:])
    assert month_over_month(con, days, 0.3)[days[-1]]["flagged"] is False
    _daily_cost(con, september[-3:] + october)  # last month has fewer days of cost: no comparison
    fewer = month_over_month(con, days, 0.2)[days[-1]]
    assert (fewer["days"], fewer["previous_days"], fewer["change"], fewer["flagged"]) == (5, 0, None, False)


def test_the_trend_is_six_calendar_months_across_a_year_end():
    assert trend_months(date(2027, 2, 14)) == [
        date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)
    ]  # fmt: skip


def _ties(con):
    """User 7's cost on 2026-10-05: storage and transfer one micro-dollar each (a credit day leaves many
    users such ties); a pattern flagged as a warning, then as critical."""
    day = date(2026, 10, 5)
    con.execute("CREATE SCHEMA cost")
    con.execute(
        "CREATE TABLE cost.user_daily_cost (usage_date DATE, user_id VARCHAR, category VARCHAR, "
        "amount_usd DECIMAL(18, 6), is_estimate BOOLEAN)"
    )
    insert_rows(
        con,
        "INSERT INTO cost.user_daily_cost VALUES (?, '7', ?, ?, false)",
        [(day, "storage", "0.000001"), (day, "transfer", "0.000001"), (day, "adjustment", "-0.000004")],
    )
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.users AS SELECT DATE '2026-10-05' AS snapshot_date, '7' AS user_id, 'free' AS plan"
    )
    _anomaly_tables(con)
    con.execute(
        "INSERT INTO anomaly.abuse_flags VALUES (DATE '2026-10-02', '43', 'rapid_upload', 'warning', 1.0, 1.0)"
    )
    con.execute(
        "CREATE OR REPLACE TABLE anomaly.abuse_flags AS SELECT * FROM anomaly.abuse_flags ORDER BY usage_date"
    )
    return day


def test_ties_are_broken_the_same_way_on_every_run():
    """The category "of most of the cost" among equal costs, and a pattern's severity among several, were
    whichever row DuckDB met first (two answers over fifteen runs of the 2026-11-30 demo page; "transfer"
    and "warning" here): now the first category by name, and the most severe flag."""
    con = duckdb.connect()
    day = _ties(con)
    (daily_top,) = rows_by_day(con, TOP_COST_SQL, window([day]), [day])[day]
    (weekly_top,) = top_users(con, [day])[day]
    assert (daily_top["main_category"], weekly_top["main_category"]) == ("storage", "storage")
    assert daily_top["day_usd"] == weekly_top["usd"] == Decimal("-0.000002")
    (pattern,) = abuse_by_pattern(con, [day], month_to_date=True)[day]
    assert (pattern["pattern"], pattern["severity"], pattern["flags"]) == ("rapid_upload", "critical", 2)
