"""The demo summary's line of failing checks explains the ones the demo month fails on purpose."""

from pipelines.demo import ESTIMATE_CHECK, checks_text


def test_expected_findings_are_explained_and_others_listed_plainly():
    checks = [
        ESTIMATE_CHECK,
        "raw_users:users_present",
        "storage_leaks:no_orphaned_data",
        "storage_leaks:no_old_delete_markers",
    ]
    assert checks_text(checks) == (
        "cost_line_items:day_covered_by_export (expected: the cost export does not cover the last day yet); "
        "raw_users:users_present; "
        "leak findings orphaned_data, old_delete_markers (expected: the month holds labelled leaks, see Savings)"
    )


def test_no_failing_check_reads_none():
    assert checks_text([]) == "none"
