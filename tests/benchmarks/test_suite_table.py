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
