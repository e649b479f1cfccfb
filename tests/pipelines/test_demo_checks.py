"""The demo's own choices: the summary's line of failing checks explains the ones the demo month fails
on purpose, and the DuckDB memory the demo gives itself."""

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


def test_the_demo_gives_duckdb_2_gb_only_where_the_machine_has_twice_that_and_nobody_chose():
    from pipelines.demo import DEMO_MEMORY_LIMIT, demo_memory_limit

    assert DEMO_MEMORY_LIMIT == "2GB"
    assert demo_memory_limit({}, 24 * 2**30) == "2GB"
    assert demo_memory_limit({}, 4 * 10**9 - 1) is None  # a small machine keeps the 700 MB default
    assert demo_memory_limit({"BUCKETLENS_DUCKDB_MEMORY_LIMIT": "700MB"}, 24 * 2**30) is None


def test_a_month_that_never_reached_the_alerts_is_summarised_not_a_traceback(tmp_path, monkeypatch):
    """Runs that all failed before ``alert_events`` (a too small memory limit, a broken source) leave a
    warehouse without the alert tables; the summary says so instead of raising a catalog error."""
    import duckdb

    from bucketlens.settings import Settings
    from pipelines.demo import _alert_figures

    monkeypatch.setenv("BUCKETLENS_HOME", str(tmp_path))
    settings = Settings.from_env()
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.inventory_objects (snapshot_date DATE)")
    con.close()
    assert _alert_figures(settings, tmp_path, []) == [
        "  alerts           none: no day reached the alerts (see the failed days above)"
    ]
