"""The raw layer and the service metrics over a window equal the same days run one by one (issue 16).

A five-day source across a month boundary (2026-09-28 .. 2026-10-02: two billing periods, the first
restated), with inventory rows that cannot be typed on a day of each month, a garbled access-log line
besides the generator's, and log records delivered the next morning. Loaded once as a range (one run,
each asset a handful of statements over the window) and once a day at a time (five runs): every table
the assets write is identical, and so are each day's figures and check outcomes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from assets.raw import RAW_ASSETS
from assets.usage import service_daily_metrics
from tests.assets.raw_helpers import (
    check_results,
    fingerprint,
    inventory_manifest,
    materialize_day,
    materialize_range,
    query,
    step_failures,
)

START, DAYS = date(2026, 9, 28), 5
WINDOW = [START + timedelta(days=i) for i in range(DAYS)]
ASSETS = [*RAW_ASSETS, service_daily_metrics]
# Columns from the manifest's fileSchema: Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size,
# LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus,
# IntelligentTieringAccessTier.
BAD_INVENTORY_ROWS = [
    '"{b}","users%2F1001%2Fsize.jpg","v1","true","false","twelve","2026-09-20T10:00:00.000Z","e1","STANDARD","false","","",""',
    '"{b}","users%2F1001%2F%FF.jpg","v2","true","false","12","2026-09-20T10:00:00.000Z","e2","STANDARD","false","","",""',
    '"{b}","users%2F1001%2Fshort.jpg","v3"',
]
GARBLED_LOG_LINE = "this line is not an S3 server access-log record"


def _add_inventory_rows(root: Path, day: date) -> int:
    """Append rows that cannot be typed to the day's CSV report, re-signing its manifest as AWS would."""
    path, manifest = inventory_manifest(root, day)
    entry = manifest["files"][0]
    data = root / entry["key"]
    lines = [r.format(b=manifest["sourceBucket"]) for r in BAD_INVENTORY_ROWS]
    text = gzip.decompress(data.read_bytes()) + ("\n".join(lines) + "\n").encode()
    data.write_bytes(gzip.compress(text))
    entry["size"], entry["MD5checksum"] = data.stat().st_size, hashlib.md5(data.read_bytes()).hexdigest()
    body = json.dumps(manifest, indent=4).encode()
    path.write_bytes(body)
    path.with_name("manifest.checksum").write_text(hashlib.md5(body).hexdigest())
    return len(lines)


@pytest.fixture(scope="module")
def boundary_source(tmp_path_factory) -> Path:
    from synthetic import generate

    root = tmp_path_factory.mktemp("boundary-source")
    generate(root, START, DAYS, 40, seed=5)
    for day in (date(2026, 9, 30), date(2026, 10, 1)):
        _add_inventory_rows(root, day)
    (log,) = sorted((root / "access-logs").rglob("2026-10-01-1*"))[:1]
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join([lines[0], GARBLED_LOG_LINE + "\n", *lines[1:]]))
    return root


@pytest.fixture(scope="module")
def both_ways(boundary_source, tmp_path_factory):
    """The window loaded as one range run and as five daily runs (homes, and their results)."""
    users_db = f"sqlite:///{boundary_source / 'users.sqlite'}"
    ranged = tmp_path_factory.mktemp("ranged")
    range_result = materialize_range(ranged, boundary_source, users_db, WINDOW, ASSETS)
    assert range_result.success, step_failures(range_result)
    daily = tmp_path_factory.mktemp("daily")
    day_results = {}
    for day in WINDOW:
        day_results[day] = materialize_day(daily, boundary_source, users_db, day, ASSETS)
        assert day_results[day].success, step_failures(day_results[day])
    return ranged, range_result, daily, day_results


def test_every_table_is_equal_row_for_row(both_ways):
    ranged, _, daily, _ = both_ways
    range_tables, daily_tables = fingerprint(ranged), fingerprint(daily)
    assert range_tables == daily_tables
    written = {t for t, (n, _) in range_tables.items() if n}
    assert {
        "raw.inventory_objects", "raw.quarantine", "raw.access_log_requests", "raw.access_log_records",
        "raw.access_log_objects", "raw.access_log_object_quarantine", "raw.cloudwatch_metrics",
        "raw.cost_line_items", "raw.cost_exports", "raw.cost_export_days", "raw.users",
        "usage.service_daily_metrics",
    } <= written  # fmt: skip


def test_the_window_holds_what_makes_it_hard(both_ways):
    """Quarantined inventory rows on both sides of the month boundary, quarantined log lines, records
    delivered the next morning, two billing periods (the equality above covers all of them)."""
    ranged, *_ = both_ways
    inventory = dict(
        query(
            ranged,
            "SELECT partition_date, count(*) FROM raw.quarantine WHERE source = 'inventory_objects' GROUP BY 1",
        )
    )
    assert inventory == {date(2026, 9, 30): 3, date(2026, 10, 1): 3}  # a bad size, a bad key, a short row
    reasons = {
        r
        for (r,) in query(
            ranged, "SELECT DISTINCT reason FROM raw.quarantine WHERE source = 'inventory_objects'"
        )
    }
    assert "key is not valid form-URL encoding" in reasons and len(reasons) == 3
    (garbled,) = query(
        ranged,
        "SELECT partition_date FROM raw.quarantine WHERE source = 'access_log_requests' AND raw_text = ?",
        [GARBLED_LOG_LINE],
    )
    assert garbled == (date(2026, 10, 1),)
    (late,) = query(  # requests of a day read from an object delivered the next day
        ranged,
        "SELECT count(*) FROM raw.access_log_requests WHERE "
        "regexp_extract(source_file, '(\\d{4}-\\d{2}-\\d{2})-\\d{2}-\\d{2}-\\d{2}-[0-9A-F]+$', 1)::DATE > usage_date",
    )[0]
    assert late > 0
    periods = query(ranged, "SELECT DISTINCT billing_period FROM raw.cost_line_items ORDER BY 1")
    assert periods == [("2026-09",), ("2026-10",)]


# What a run parsed itself rather than found parsed: a range runs each asset over every day before the
# next asset, days run one by one interleave them (a day's access_log_requests parses the next
# morning's objects before that day's access_log_objects runs), so these describe the run, not the day.
# The window's own attribution of them is tested with one asset alone below.
RUN_FIGURES = {"log_objects_parsed_now", "lines_parsed_now", "log_objects_reused"}


def _without(per_day: dict, names: set[str]) -> dict:
    return {
        a: {d: {k: v for k, v in f.items() if k not in names} for d, f in days.items()}
        for a, days in per_day.items()
    }


def _per_day(result) -> dict[str, dict]:
    """Each asset's per-day figures as its materialization reports them (``per_day``), floats rounded."""
    out = {}
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        for day, figures in mat.metadata["per_day"].value.items():
            rounded = {k: round(v, 9) if isinstance(v, float) else v for k, v in figures.items()}
            out.setdefault(mat.asset_key.to_user_string(), {})[day] = rounded
    return out


def test_each_days_figures_and_checks_are_those_of_its_own_run(both_ways):
    _, range_result, _, day_results = both_ways
    ranged = _per_day(range_result)
    daily: dict[str, dict] = {}
    for result in day_results.values():
        for asset, days in _per_day(result).items():
            daily.setdefault(asset, {}).update(days)
    assert _without(ranged, RUN_FIGURES) == _without(daily, RUN_FIGURES)
    assert ranged["access_log_requests"]["2026-10-01"]["quarantined_lines"] >= 1
    assert ranged["inventory_objects"]["2026-09-30"]["quarantined_rows"] == 3
    range_checks = check_results(range_result)
    for name, check in range_checks.items():
        failing = sorted(str(d) for d, r in day_results.items() if not check_results(r)[name].passed)
        assert check.passed == (not failing), name
        assert check.metadata["days_failing"].value == (", ".join(failing) or "none"), name
    assert not range_checks["inventory_objects:no_quarantined_rows"].passed  # the two damaged days


@pytest.mark.parametrize("asset", ["access_log_objects", "access_log_requests"])
def test_what_a_window_parses_counts_for_the_first_day_that_reads_it(boundary_source, tmp_path, asset):
    """One access-log asset alone, as a range and day by day: each object parsed counts once, for the
    first day whose objects include it (for ``access_log_requests`` the next morning's objects are
    parsed by the day before), exactly as when the days run one at a time."""
    from assets import raw

    users_db = f"sqlite:///{boundary_source / 'users.sqlite'}"
    alone = [getattr(raw, asset)]
    range_result = materialize_range(tmp_path / "range", boundary_source, users_db, WINDOW, alone)
    day_results = [materialize_day(tmp_path / "daily", boundary_source, users_db, d, alone) for d in WINDOW]
    assert range_result.success and all(r.success for r in day_results)
    ranged = _per_day(range_result)[asset]
    daily = {d: f for r in day_results for d, f in _per_day(r)[asset].items()}
    assert ranged == daily
    parsed = sum(f["log_objects_parsed_now"] for f in ranged.values())
    (objects,) = query(tmp_path / "range", "SELECT count(*) FROM raw.access_log_objects")[0]
    assert parsed == objects > 0  # every object of the ledger parsed by exactly one day


def test_a_window_split_by_its_budgets_equals_one_statement_per_step(
    boundary_source, both_ways, tmp_path, monkeypatch
):
    """Budgets that split the window — a transaction per day, the new log objects parsed in several
    calls of several bundles — write exactly what one transaction and one parse write."""
    import importlib

    from assets.raw import log_bundles, log_ledger

    monkeypatch.setattr(importlib.import_module("assets.raw.inventory_objects"), "TRANSACTION_BYTES", 1)
    monkeypatch.setattr(importlib.import_module("assets.raw.access_log_requests"), "TRANSACTION_RECORDS", 1)
    monkeypatch.setattr(log_ledger, "PARSE_BATCH_BYTES", 500_000)
    monkeypatch.setattr(log_bundles, "BUNDLE_BYTES", 100_000)
    users_db = f"sqlite:///{boundary_source / 'users.sqlite'}"
    result = materialize_range(tmp_path, boundary_source, users_db, WINDOW, ASSETS)
    assert result.success, step_failures(result)
    assert fingerprint(tmp_path) == fingerprint(both_ways[0])


def test_groups_within_keeps_order_and_budget():
    from assets.window import groups_within

    sizes = {"a": 3, "b": 3, "c": 9, "d": 1, "e": 0}
    assert groups_within(list("abcde"), sizes, 6) == [["a", "b"], ["c"], ["d", "e"]]  # c alone: over budget
    assert groups_within(list("abcde"), sizes, 100) == [list("abcde")]
    assert groups_within([], sizes, 6) == []
