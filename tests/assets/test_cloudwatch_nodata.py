"""One missing CloudWatch day in a range is NoData for that day (issue 14, defect 7): a warning naming
the day and the file, the other days load, every user-level asset completes, a day loaded before keeps
its rows, and the service metrics of the NoData day fall back to the inventory and the logs — never to
zero, which the next day's storage-growth rule would read as a 2 TB jump."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS
from assets.usage import USAGE_ASSETS
from tests.assets.raw_helpers import check_results, materialize_range, query, step_failures

ALL = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS]
# An exact (DECIMAL) sum: a DOUBLE sum's last digit depends on the order DuckDB adds the rows in, and the
# CloudFront series' large byte counts made that visible.
CW_ROWS = (
    "SELECT usage_date, count(*), sum(CAST(value AS DECIMAL(38, 4))) FROM raw.cloudwatch_metrics "
    "GROUP BY 1 ORDER BY 1"
)


@pytest.fixture
def source(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    return root


def _days(tiny_source):
    return [tiny_source.start + timedelta(days=i) for i in (3, 4, 5)]


def test_a_missing_day_is_nodata_and_the_range_completes(tiny_source, source, tmp_path):
    days = _days(tiny_source)
    missing = source / "cloudwatch" / f"{days[1]}.jsonl"
    missing.unlink()
    home = tmp_path / "home"
    result = materialize_range(home, source, f"sqlite:///{source / 'users.sqlite'}", days, ALL)
    assert result.success, step_failures(result)  # was: cloudwatch_metrics FAILED for all three days
    materialized = {
        e.materialization.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    }
    assert materialized == {a.key.to_user_string() for a in ALL}  # every user-level asset completed

    check = check_results(result)["cloudwatch_metrics:cloudwatch_data_present"]
    assert not check.passed and check.severity.value == "WARN"
    assert check.metadata["days_failing"].value == str(days[1])
    assert check.description == f"NoData for {days[1]}: {missing} is missing; nothing loaded for it."
    loaded = dict((d, n) for d, n, _ in query(home, CW_ROWS))
    assert loaded.keys() == {days[0], days[2]} and all(n > 0 for n in loaded.values())

    # The NoData day's service row: sizes from the inventory, requests from the access logs.
    (row,) = query(
        home,
        "SELECT total_bytes, inventory_bytes, requests_source, request_count, log_request_count "
        "FROM usage.service_daily_metrics WHERE usage_date = ?",
        [days[1]],
    )
    total, inventory, requests_source, requests, logged = row
    assert total == inventory and total > 2 * 1024**4  # 2.02 TiB, not 0
    assert (requests_source, requests) == ("access_logs", logged)
    # With the default rules (growth warning at 1 TB/day) a 0-byte day would alert on the next one.
    storage_rules = query(
        home,
        "SELECT usage_date, metric FROM anomaly.service_anomalies WHERE metric LIKE 'storage%' AND usage_date IN (?, ?)",
        days[1:],
    )
    assert storage_rules == []
    assert check_results(result)["service_anomalies:anomalies_over_their_line"].passed


def test_a_loaded_day_whose_file_disappeared_keeps_its_rows(tiny_source, source, tmp_path):
    days = _days(tiny_source)
    home, users_db = tmp_path / "home", f"sqlite:///{source / 'users.sqlite'}"
    assert materialize_range(home, source, users_db, days, RAW_ASSETS).success
    before = query(home, CW_ROWS)
    (source / "cloudwatch" / f"{days[1]}.jsonl").unlink()
    result = materialize_range(home, source, users_db, days, RAW_ASSETS)
    assert result.success, step_failures(result)
    assert query(home, CW_ROWS) == before  # never wiped
    check = check_results(result)["cloudwatch_metrics:cloudwatch_data_present"]
    kept = dict((d, n) for d, n, _ in before)[days[1]]
    assert check.description == (
        f"NoData for {days[1]}: {source}/cloudwatch/{days[1]}.jsonl is missing; kept the {kept:,} rows loaded before."
    )
    assert check_results(result)[
        "cloudwatch_metrics:storage_metrics_present"
    ].passed  # the kept rows have them
