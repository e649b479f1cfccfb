"""The tiny generated source through every layer and the reports, once per module that asks for it."""

import shutil
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.reports import REPORT_ASSETS
from assets.usage import USAGE_ASSETS
from bucketlens.settings import Settings
from pipelines.runner import QUIET_CONSOLE, RANGE_END_TAG, RANGE_START_TAG
from resources import build_resources
from resources.reports import ReportSettings
from tests.conftest import bucketlens_env
from tests.rows import insert_rows

UI = "http://127.0.0.1:3000"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=1>'


def report_resources(home):
    return {
        **build_resources(Settings.from_env()),
        "reports": ReportSettings(reports_dir=str(home / "reports"), ui_url=UI),
    }


@pytest.fixture(scope="package")
def reported(tiny_s3_source, tmp_path_factory):
    """The tiny S3-only source's 10 days, raw to reports, in one range run (as a backfill does)."""
    home = tmp_path_factory.mktemp("reports-home")
    source = tiny_s3_source
    days = [source.start + timedelta(days=i) for i in range(source.days)]
    with bucketlens_env(home, source.root, source.users_db):
        defs = dg.Definitions(
            assets=[*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS, *REPORT_ASSETS],
            resources=report_resources(home),
        )
        job = defs.resolve_implicit_global_asset_job_def()
        tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
        result = job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE, raise_on_error=False)
    assert result.success
    return home, days, result


@pytest.fixture(scope="package")
def varied(reported, tmp_path_factory):
    """A copy of the tiny warehouse with the branches the tiny month never reaches — a September to compare
    with (its cost only: October's again 10, 20 and 30 days earlier at half the amount; month over month
    +100 %, flagged; a previous week), the alert engine's events instead of the detections, a day priced
    from the price book — and two users whose ids are HTML: ``SCRIPT`` is the week's top spender (weekly
    page), ``IMG`` the user fullest of quota (monthly page); both have alert events on the last day
    (daily page)."""
    home, days, _ = reported
    last = days[-1]
    path = tmp_path_factory.mktemp("varied") / "warehouse.duckdb"
    shutil.copyfile(home / "warehouse.duckdb", path)
    con = duckdb.connect(str(path))
    try:
        # September = October's cost again 10, 20 and 30 days earlier at half the amount (billed).
        con.execute(
            "INSERT INTO cost.user_daily_cost BY NAME "
            "SELECT c.* REPLACE (c.usage_date - s.days AS usage_date, c.amount_usd / 2 AS amount_usd, "
            "false AS is_estimate) FROM cost.user_daily_cost c, (VALUES (10), (20), (30)) s(days)"
        )
        con.execute("UPDATE cost.user_daily_cost SET is_estimate = true WHERE usage_date = ?", [last])
        spender = _first(
            con,
            "SELECT user_id FROM cost.user_daily_cost WHERE usage_date BETWEEN ? AND ? AND user_id <> '_shared' "
            "GROUP BY ALL ORDER BY sum(amount_usd) DESC, user_id LIMIT 1",
            [last - timedelta(days=6), last],
        )
        fullest = _first(
            con,
            "SELECT user_id FROM cost.user_quota_use WHERE usage_date = ? AND user_id <> ? "
            "ORDER BY quota_use_pct DESC, user_id LIMIT 1",
            [last, spender],
        )
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE column_name = 'user_id' AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            for old, new in ((spender, SCRIPT), (fullest, IMG)):
                con.execute(f'UPDATE "{schema}"."{table}" SET user_id = ? WHERE user_id = ?', [new, old])
        con.execute("CREATE SCHEMA IF NOT EXISTS alerts")
        con.execute(
            "CREATE OR REPLACE TABLE alerts.alert_events (alert_key VARCHAR, rule VARCHAR, severity VARCHAR, "
            "subject VARCHAR, state VARCHAR, value DOUBLE, threshold DOUBLE, usage_date DATE, reason VARCHAR)"
        )
        events = [
            ("k1", "user_rapid_upload", "critical", f"user {SCRIPT}", "firing", 150.0, 100.0, last, None),
            ("k2", "user_hot_key", "warning", f"user {IMG}", "resolved", 9e3, 5e3, last, f"key {IMG} hot"),
        ]
        insert_rows(con, "INSERT INTO alerts.alert_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
    finally:
        con.close()
    return path


def _first(con, sql: str, params: list) -> str:
    return con.execute(sql, params).fetchall()[0][0]
