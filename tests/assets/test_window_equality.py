"""The cost, anomaly and alert layers run over a window (one run, set-based) equal the same days run one by
one, row for row, in every table they write — across a month boundary (two bills, billed and estimated
days in one window, trailing baselines reaching into the previous month) and after a restated export
(a bill that changed after its days were loaded, rerun as a range).

The layers below (raw, usage) are loaded once into a shared warehouse, which is copied; the two copies
then differ only in how the layers under test were run.
"""

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from assets.alerts import ALERT_ASSETS
from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS, cost_line_items
from assets.usage import USAGE_ASSETS
from tests.assets.raw_helpers import failure_messages, materialize_day, materialize_range, query

LAYERS = [*COST_ASSETS, *ANOMALY_ASSETS, *ALERT_ASSETS]
EVERYTHING = [*RAW_ASSETS, *USAGE_ASSETS, *LAYERS]
TABLES = (
    "cost.user_daily_cost",
    "cost.plan_daily_margin",
    "cost.user_quota_use",
    "anomaly.abuse_flags",
    "anomaly.user_anomaly_scores",
    "anomaly.service_anomalies",
    "alerts.alert_events",
)
# alert_events plans notifications once per run: a range's figures land on its last day only
PER_RUN_FIGURES = {
    "notifications_enqueued",
    "notifications_planned",
    "held_back",
    "silenced",
    "inhibited",
    "digested",
}

# 20 users from 2026-10-12 for 24 days: October's bill (restated once by the generator), November's bill
# through 11-03, and 11-04 without an export (estimated). The window crosses the month boundary and its
# last days have three same-weekday days of history (weekday baselines).
START, DAYS, USERS = date(2026, 10, 12), 24, 20
WINDOW = [date(2026, 10, 30) + timedelta(days=i) for i in range(6)]  # 10-30 .. 11-04


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _users_db(root: Path) -> str:
    return f"sqlite:///{root / 'users.sqlite'}"


LAYER_KEYS = {key.to_user_string() for asset in LAYERS for key in asset.keys}


def _succeeded(result) -> None:
    """The run succeeded and every check of the layers under test passed (the raw layer's quarantine
    checks may warn on the small generated sources)."""
    assert result.success, failure_messages(result)
    failed = [
        c.check_name
        for c in result.get_asset_check_evaluations()
        if not c.passed and c.asset_key.to_user_string() in LAYER_KEYS
    ]
    assert failed == []


def _per_day(result) -> dict[tuple[str, str], dict]:
    """(asset, day) → that day's numeric figures, from the run's materializations."""
    out = {}
    for event in result.get_asset_materialization_events():
        asset = event.asset_key.to_user_string()
        for day, figures in event.materialization.metadata["per_day"].value.items():
            out[(asset, day)] = {k: v for k, v in figures.items() if k not in PER_RUN_FIGURES}
    return out


def _run_both(base: Path, tmp: Path, source: Path, days: list[date], assets) -> tuple[Path, Path, dict, dict]:
    """Copy ``base`` twice; run ``assets`` over ``days`` as one range in one copy and one day at a time
    in the other. Returns both homes and their per-day figures."""
    ranged, daily = tmp / "ranged", tmp / "daily"
    shutil.copytree(base, ranged)
    shutil.copytree(base, daily)
    result = materialize_range(ranged, source, _users_db(source), days, assets)
    _succeeded(result)
    range_figures = _per_day(result)
    daily_figures = {}
    for day in days:
        result = materialize_day(daily, source, _users_db(source), day, assets=assets)
        _succeeded(result)
        daily_figures |= _per_day(result)
    return ranged, daily, range_figures, daily_figures


def _differences(a: Path, b: Path, days: list[date]) -> dict[str, tuple[int, int]]:
    """Per table: rows of the window only in ``a``, only in ``b`` (EXCEPT ALL both ways, every column)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{a / 'warehouse.duckdb'}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{b / 'warehouse.duckdb'}' AS b (READ_ONLY)")
        out = {}
        for table in TABLES:
            rows = {
                side: f"SELECT * FROM {side}.{table} WHERE usage_date BETWEEN $first AND $last"
                for side in ("a", "b")
            }
            params = {"first": days[0], "last": days[-1]}
            only_a = con.execute(f"SELECT count(*) FROM ({rows['a']} EXCEPT ALL {rows['b']})", params)
            only_a = only_a.fetchall()[0][0]
            only_b = con.execute(f"SELECT count(*) FROM ({rows['b']} EXCEPT ALL {rows['a']})", params)
            out[table] = (only_a, only_b.fetchall()[0][0])
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def boundary(tmp_path_factory):
    """The month-boundary source; everything before the window loaded as one range, raw and usage of the
    window too; then the layers under test over the window as a range and day by day."""
    from synthetic import generate

    source = tmp_path_factory.mktemp("boundary-source")
    generate(source, START, DAYS, USERS, seed=5)
    base = tmp_path_factory.mktemp("boundary-base") / "home"
    _succeeded(
        materialize_range(base, source, _users_db(source), _days(START, WINDOW[0] - timedelta(1)), EVERYTHING)
    )
    _succeeded(materialize_range(base, source, _users_db(source), WINDOW, [*RAW_ASSETS, *USAGE_ASSETS]))
    return _run_both(base, tmp_path_factory.mktemp("boundary-runs"), source, WINDOW, LAYERS)


def test_a_window_across_a_month_boundary_equals_its_days_one_by_one_row_for_row(boundary):
    ranged, daily, range_figures, daily_figures = boundary
    assert _differences(ranged, daily, WINDOW) == dict.fromkeys(TABLES, (0, 0))
    # every table has rows on the window's days, so the comparison compares something
    for table in TABLES:
        (n,) = query(
            ranged, f"SELECT count(DISTINCT usage_date) FROM {table} WHERE usage_date >= ?", [WINDOW[0]]
        )[0]
        assert n >= (1 if table.startswith(("anomaly.service", "anomaly.abuse")) else len(WINDOW)), table
    # billed and estimated days in one window: only 11-04 has no export
    estimated = query(ranged, "SELECT DISTINCT usage_date FROM cost.user_daily_cost WHERE is_estimate")
    assert estimated == [(date(2026, 11, 4),)]
    # the scores' baselines in the window: the user's own days, and their weekday's from 11-02 on
    sources = {
        r[0].split(":")[0]
        for r in query(
            ranged,
            "SELECT DISTINCT baseline_source FROM anomaly.user_anomaly_scores WHERE usage_date >= ?",
            [WINDOW[0]],
        )
    }
    assert {"own", "own_weekday"} <= sources
    # the per-day figures (metadata) of the range are each day's own run's
    assert range_figures == daily_figures
    assert len(range_figures) == len(LAYERS) * len(WINDOW)


def test_days_before_the_window_are_left_as_they_were(boundary):
    ranged, daily, _, _ = boundary
    before = _days(START, WINDOW[0] - timedelta(1))
    assert _differences(ranged, daily, before) == dict.fromkeys(TABLES, (0, 0))


def _restate(root: Path, period: str, factor: float, add_day: date) -> None:
    """A new execution of the period's export: every cost × ``factor``, and ``add_day`` billed too (a copy of
    the day before's line items); the manifest points at it, as AWS's does after a restatement."""
    (manifest_path,) = root.glob(f"cur/*/metadata/BILLING_PERIOD={period}/*-Manifest.json")
    manifest = json.loads(manifest_path.read_text())
    old = root / "cur" / manifest["dataFiles"][0].split("/cur/", 1)[1]
    new = old.parent.parent / "restated-after-load" / old.name
    new.parent.mkdir(parents=True)
    scaled = f"SELECT * REPLACE (line_item_unblended_cost * {factor} AS line_item_unblended_cost) FROM read_parquet('{old}')"
    shifted = (
        f"SELECT * REPLACE (identity_line_item_id || '-next' AS identity_line_item_id, "
        f"line_item_usage_start_date + INTERVAL 1 DAY AS line_item_usage_start_date, "
        f"line_item_usage_end_date + INTERVAL 1 DAY AS line_item_usage_end_date) FROM ({scaled}) "
        f"WHERE line_item_usage_start_date::DATE = DATE '{add_day - timedelta(days=1)}'"
    )
    duckdb.sql(f"COPY ({scaled} UNION ALL {shifted}) TO '{new}' (FORMAT parquet)")
    manifest["executionId"] = "restated-after-load"
    manifest["dataFiles"] = [f"s3://bucket/cur/{new.relative_to(root / 'cur').as_posix()}"]
    manifest_path.write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def restated(tiny_source, tmp_path_factory):
    """The tiny source's ten days loaded through every layer; then its October bill restated (costs × 1.5,
    the estimated last day now billed) and the last three days rerun with the cost export: as one range in
    one copy, day by day in the other."""
    source = tmp_path_factory.mktemp("restated") / "source"
    shutil.copytree(tiny_source.root, source)
    days = _days(tiny_source.start, tiny_source.start + timedelta(days=tiny_source.days - 1))
    base = tmp_path_factory.mktemp("restated-base") / "home"
    _succeeded(materialize_range(base, source, _users_db(source), days, EVERYTHING))
    before = query(
        base,
        "SELECT usage_date, sum(amount_usd), bool_or(is_estimate) FROM cost.user_daily_cost GROUP BY 1 ORDER BY 1",
    )
    _restate(source, "2026-10", 1.5, days[-1])
    rerun = days[7:]
    return (
        before,
        _run_both(base, tmp_path_factory.mktemp("restated-runs"), source, rerun, [cost_line_items, *LAYERS]),
        rerun,
    )


def test_a_restated_month_rerun_as_a_range_equals_its_days_rerun_one_by_one(restated):
    before, (ranged, daily, range_figures, daily_figures), rerun = restated
    assert _differences(ranged, daily, rerun) == dict.fromkeys(TABLES, (0, 0))
    assert range_figures == daily_figures
    after = query(
        ranged,
        "SELECT usage_date, sum(amount_usd), bool_or(is_estimate) FROM cost.user_daily_cost GROUP BY 1 ORDER BY 1",
    )
    was, now = {d: (usd, est) for d, usd, est in before}, {d: (usd, est) for d, usd, est in after}
    # the rerun days carry the restated bill (× 1.5, to the micro-dollar per line item); the last day,
    # estimated when loaded, is billed now; the days before the rerun keep what they had
    assert was[rerun[-1]][1] is True and now[rerun[-1]][1] is False
    for day in rerun[:-1]:
        assert now[day][1] is False and abs(now[day][0] - was[day][0] * 3 / 2) <= 0.0001, day
    for day in sorted(set(was) - set(rerun)):
        assert now[day] == was[day]
