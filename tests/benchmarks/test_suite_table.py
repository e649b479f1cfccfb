"""The bench table reports a failed case instead of losing the whole suite's figures."""

from benchmarks.commands import _case
from benchmarks.suite import suite_table


def test_a_failed_case_is_a_row_and_the_others_still_print():
    results = {"load_before": "0.5", "load_after": "0.7", "inventory": [], "access_log": [], "failed": []}
    with _case(results, "storage 100,000,000"):
        raise OSError("No space left on device")
    with _case(results, "access-log 1,000 lines"):
        pass  # a case that works adds its own row (none here)
    table = suite_table(results)
    assert results["failed"] == [{"case": "storage 100,000,000", "error": "OSError: No space left on device"}]
    assert "  FAILED storage 100,000,000: OSError: No space left on device" in table.splitlines()
    assert table.splitlines()[0] == "load: 0.5" and table.splitlines()[-1] == "load: 0.7"


def test_the_storage_case_says_its_ratio_in_cpu_time_too():
    case = {
        "objects": 10_000_000, "inventory_rows": 10_000_000, "agree": True, "storage_floor_ratio": 2.89,
        "storage_pandas_ratio": 0.015,
        "bucketlens": {"user_daily_storage_seconds": 1.89, "user_daily_storage_cpu_seconds": 3.1, "peak_rss_mib": 894},
        "pandas": {"user_daily_storage_seconds": 125.84, "peak_rss_mib": 5582},
        "floor": {"seconds": 0.65, "cpu_seconds": 1.24},
    }  # fmt: skip
    table = suite_table(
        {"load_before": "0.5", "load_after": "0.7", "cores": 2, "inventory": [case], "access_log": []}
    )
    assert "  note: storage 10,000,000: user_daily_storage used 3.10 CPU s, the floor 1.24 CPU s (2.50x)" in (
        table.splitlines()
    )
