"""A range renders exactly the pages its days render one by one, from a handful of queries.

A run over a window reads each figure once for all its days (``bucketlens/reports/sql``) and renders
every day's page from that. Each day of a 7-day range must be the page a daily run of that day renders —
byte for byte, with the same figures, preview and charts — and what the day-by-day queries of before
showed (``tests/reports/legacy``: one query per figure and day, compared with ``page_content``). On the
tiny month (a Sunday, the day before the export ends, the estimated last day) and on the varied copy
across a month boundary (September 29 to October 2: month to date restarts, last month to compare with,
the alert engine's events).
"""

import shutil
from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from assets.partitions import RANGE_END_TAG, RANGE_START_TAG
from assets.reports import REPORT_ASSETS
from bucketlens.reports import daily, monthly, weekly
from pipelines.runner import QUIET_CONSOLE
from tests.conftest import bucketlens_env
from tests.reports.conftest import report_resources
from tests.reports.test_templates import MOM_RATIO, REPORTS, _link, assert_same_page

# report -> what a window reads: (con, days) -> each day's figures
FIGURES = {
    "daily": lambda con, days: list(daily.daily_figures(con, days)),
    "weekly": lambda con, days: list(weekly.week_costs(con, days)),
    "monthly": lambda con, days: list(monthly.monthly_figures(con, days, MOM_RATIO)),
}
# report -> the window builder, as its asset calls it: (con, days, ui_link) -> one Report per day
WINDOWS = {
    "daily": lambda con, days, link: list(daily.build_daily_reports(con, days, link)),
    "weekly": lambda con, days, link: [page for page, _ in weekly.build_weekly_reports(con, days, link)],
    "monthly": lambda con, days, link: list(monthly.build_monthly_reports(con, days, MOM_RATIO, link)),
}


def _range_daily_and_legacy(warehouse, report: str, days: list[date]):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        build, link = WINDOWS[report], lambda d: _link(report, d)
        ranged = build(con, days, link)
        one_by_one = [build(con, [d], link)[0] for d in days]
        legacy = [REPORTS[report][2](con, d, link(d)) for d in days]
    finally:
        con.close()
    return ranged, one_by_one, legacy


def _assert_range_is_the_days(ranged, one_by_one, legacy, days) -> None:
    assert [r.day for r in ranged] == days
    for r, d in zip(ranged, one_by_one, strict=True):
        assert (r.name, r.day, r.figures, r.preview, r.charts) == (
            d.name,
            d.day,
            d.figures,
            d.preview,
            d.charts,
        )
        assert r.html == d.html  # byte for byte, charts included
    for old, new in zip(legacy, ranged, strict=True):
        assert_same_page(old, new)
    assert len({r.html for r in ranged}) == len(days)  # a page per day, not one page seven times


@pytest.mark.parametrize("report", WINDOWS)
def test_a_seven_day_range_renders_the_pages_of_seven_daily_runs(reported, report):
    home, days, _ = reported
    window = days[3:]  # Sun 2026-10-04 .. Sat 10-10
    assert window[0].isoweekday() == 7 and len(window) == 7
    _assert_range_is_the_days(*_range_daily_and_legacy(home / "warehouse.duckdb", report, window), window)


@pytest.mark.parametrize("report", WINDOWS)
def test_a_range_across_a_month_boundary_renders_the_pages_of_its_days(reported, varied, report):
    window = [date(2026, 9, 29) + timedelta(days=i) for i in range(4)]  # Tue Sep 29 .. Fri Oct 2
    ranged, one_by_one, legacy = _range_daily_and_legacy(varied, report, window)
    _assert_range_is_the_days(ranged, one_by_one, legacy, window)
    if report == "monthly":  # the branches this window is for: September to date, then October's restart
        assert [r.figures["days"] for r in ranged] == [29, 30, 1, 2]
        assert all(r.figures["month_over_month_flagged"] == 1 for r in ranged[2:])


class CountingConnection:
    """A DuckDB connection that counts the statements it is given."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.statements = con, 0

    def execute(self, *args):
        self.statements += 1
        return self.con.execute(*args)


# Statements per window, whatever its length: daily — the 30-day service series, the alert source's
# three column look-ups and its query, the abuse flags' look-up and query, the response actions' look-up
# (no query: this warehouse has no actions layer), the users' storage table and
# its two top-10s, the top cost users; weekly — cost per day and category, users, top users; monthly —
# cost per day and category, users, months, month over month, plans, quota, fullest, the abuse flags'
# look-up and query, the savings tables' three look-ups (none here: no savings layer); daily and monthly
# also the CDN tables' two look-ups, then daily its three CDN queries (service, distributions, top users),
# monthly its one (CDN cost per user). The day-by-day reports ran theirs once per day.
STATEMENTS = {"daily": 12 + 5, "weekly": 3, "monthly": 12 + 3}


@pytest.mark.parametrize("report", WINDOWS)
def test_a_range_reads_its_figures_with_the_statements_of_one_day(reported, report):
    """Rendering reads nothing: a window's figures are all its statements."""
    home, days, _ = reported
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        counted = {}
        for length in (1, 7):
            counting = CountingConnection(con)
            assert len(FIGURES[report](counting, days[3 : 3 + length])) == length
            counted[length] = counting.statements
    finally:
        con.close()
    assert counted == {1: STATEMENTS[report], 7: STATEMENTS[report]}


def _run(run_home, tiny, days, as_range: bool) -> list[dg.ExecuteInProcessResult]:
    with bucketlens_env(run_home, tiny.root, tiny.users_db):
        defs = dg.Definitions(assets=REPORT_ASSETS, resources=report_resources(run_home))
        job = defs.resolve_implicit_global_asset_job_def()
        if as_range:
            tags = {RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[-1].isoformat()}
            return [job.execute_in_process(tags=tags, run_config=QUIET_CONSOLE)]
        return [job.execute_in_process(partition_key=d.isoformat(), run_config=QUIET_CONSOLE) for d in days]


def _per_day(runs) -> dict[tuple[str, str], dict]:
    """(asset, day) -> the day's figures, as ``bucketlens run`` prints them; but the number of Slack posts
    a run queued, which is the run's (noted on its last day), not the day's."""
    out = {}
    for run in runs:
        for event in run.get_asset_materialization_events():
            for day, figures in event.materialization.metadata["per_day"].value.items():
                figures = {k: v for k, v in figures.items() if k != "slack_posts_queued"}
                out[(event.asset_key.to_user_string(), day)] = figures
    return out


def _posts_due(runs, run_home) -> dict[str, dict]:
    """The Slack posts due by identity, their chart's path from the home (each way runs in its own). A
    range run's metadata is on every partition it materialized: each post is there once per day."""
    return {
        post["identity"]: {**post, "attachment_path": post["attachment_path"].removeprefix(str(run_home))}
        | {"created_at": None}
        for run in runs
        for event in run.get_asset_materialization_events()
        if event.asset_key.to_user_string() == "weekly_cost_summary"
        for post in event.materialization.metadata["slack_posts_due"].value
    }


def test_a_range_run_writes_the_files_and_figures_of_daily_runs(reported, tiny_s3_source, tmp_path):
    """The assets end to end: a 3-day range run against three daily runs, each on its own copy of the
    warehouse — every file under reports/ byte for byte, every day's figures, the Sunday's Slack post."""
    home, days, _ = reported
    window = days[3:6]  # Sun 2026-10-04 .. Tue 10-06
    outcome = {}
    for how in ("range", "daily"):
        run_home = tmp_path / how
        run_home.mkdir()
        shutil.copyfile(home / "warehouse.duckdb", run_home / "warehouse.duckdb")
        runs = _run(run_home, tiny_s3_source, window, as_range=how == "range")
        assert all(r.success for r in runs)
        assert all(e.passed for r in runs for e in r.get_asset_check_evaluations())
        reports = run_home / "reports"
        files = {str(p.relative_to(reports)): p.read_bytes() for p in reports.rglob("*") if p.is_file()}
        outcome[how] = (files, _per_day(runs), _posts_due(runs, run_home))
    (files, figures, posts), daily_runs = outcome["range"], outcome["daily"]
    assert sorted(files) == sorted(daily_runs[0])
    assert [name for name in files if files[name] != daily_runs[0][name]] == []
    assert (
        len(files) == 3 * 3 + 3 + 2
    )  # 3 daily, weekly, monthly pages; 3 weekly charts; the month's csv+json
    # A range writes a month's statements once, as of its last day; daily runs wrote them as of each day,
    # each replacing the day before's files (those figures are the only ones a range does not have).
    assert figures == {key: f for key, f in daily_runs[1].items() if key in figures} and len(figures) == 10
    assert sorted(set(daily_runs[1]) - set(figures)) == [("user_statements", str(d)) for d in window[:2]]
    assert posts == daily_runs[2] and list(posts) == ["weekly_cost_summary:2026-10-04"]
