"""The raw layer's fault suite: a wrong source, an empty prefix, truncated or garbled files and a missing
users database, each on days already loaded. Whatever the fault, the warehouse keeps every row it had —
every table's row count and content hash are identical before and after — and the run says what is
wrong in one line naming the file or prefix (or, for CloudWatch, marks the days NoData).

One warehouse with two loaded days (raw → usage → cost → anomaly) is built once; each scenario runs the
same two days as one range run (as ``bucketlens run --start --end`` does) on a copy of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from assets.anomaly import ANOMALY_ASSETS
from assets.cost import COST_ASSETS
from assets.raw import RAW_ASSETS, access_log_requests
from assets.usage import USAGE_ASSETS
from tests.assets.raw_helpers import (
    check_results,
    fingerprint,
    inventory_manifest,
    materialize_range,
    step_failures,
    total_rows,
)
from tests.faults.table import FaultRow

pytestmark = pytest.mark.faults

ASSETS = [*RAW_ASSETS, *USAGE_ASSETS, *COST_ASSETS, *ANOMALY_ASSETS]
SOURCES = ("inventory", "access-logs", "cloudfront", "cloudwatch", "cur", "users.sqlite")
BIN = Path(sys.executable).parent / "bucketlens"


@pytest.fixture(scope="module")
def source_root(tiny_source, tmp_path_factory):
    """Where the loaded days' source lives; each scenario damages it in place (rebuilt from links to the
    tiny source first), so a rewrite from an intact part reads the very same paths as the first load."""
    return tmp_path_factory.mktemp("raw-faults") / "source"


def source_with(tiny_source, root: Path, emptied: str | None = None, copied: str | None = None) -> Path:
    """The tiny source as links to its parts under ``root``, with ``emptied`` an empty folder and
    ``copied`` a real copy the scenario may damage."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir()
    for name in SOURCES:
        if name == emptied:
            (root / name).mkdir()
        elif name == copied:
            shutil.copytree(tiny_source.root / name, root / name, copy_function=shutil.copy2)
        else:
            (root / name).symlink_to(tiny_source.root / name)
    return root


@pytest.fixture(scope="module")
def loaded(tiny_source, source_root, tmp_path_factory):
    """Days 5 and 6 of the tiny source loaded through every layer up to the anomalies."""
    home = tmp_path_factory.mktemp("raw-faults-loaded")
    days = [tiny_source.start + timedelta(days=i) for i in (4, 5)]
    source = source_with(tiny_source, source_root)
    result = materialize_range(home, source, f"sqlite:///{source / 'users.sqlite'}", days, ASSETS)
    assert result.success, step_failures(result)
    state = fingerprint(home)
    assert all(
        state[t][0] > 0
        for t in (
            "raw.inventory_objects",
            "raw.access_log_requests",
            "raw.cdn_requests",
            "cost.user_daily_cost",
        )
    )
    return home, days, state


@pytest.fixture
def home(loaded, tmp_path):
    """A copy of the loaded warehouse for one scenario."""
    target = tmp_path / "home"
    target.mkdir()
    shutil.copy2(loaded[0] / "warehouse.duckdb", target / "warehouse.duckdb")
    return target


def run(home, source, days, users_db: str | None = None):
    return materialize_range(home, source, users_db or f"sqlite:///{source / 'users.sqlite'}", days, ASSETS)


def assert_unchanged(fault_table, case: str, before: dict, home: Path) -> None:
    after = fingerprint(home)
    fault_table(
        FaultRow(
            suite="raw",
            case=case,
            database="duckdb",
            rows_before=total_rows(before),
            rows_after=total_rows(after),
        )
    )
    assert after == before, {
        t: (before.get(t), after.get(t)) for t in set(before) | set(after) if before.get(t) != after.get(t)
    }


def one_line_failure(result, step: str) -> str:
    """The step failed with a dg.Failure (no traceback to read) whose description is one line."""
    failures = step_failures(result)
    assert not result.success and step in failures, failures
    description = failures[step]
    assert description is not None and "\n" not in description, description
    return description


def test_empty_inventory_prefix_fails_naming_it(tiny_source, source_root, loaded, home, fault_table):
    _, days, before = loaded
    source = source_with(tiny_source, source_root, emptied="inventory")
    result = run(home, source, days)
    message = one_line_failure(result, "inventory_objects")
    assert message.startswith(f"No S3 Inventory manifest for {days[0]} under {source}/inventory/: expected ")
    assert_unchanged(fault_table, "empty inventory/ prefix", before, home)


def test_empty_cloudfront_prefix_on_loaded_days_fails_and_keeps_them(
    tiny_source, source_root, loaded, home, fault_table
):
    """A service without a CDN gets empty CloudFront days; a source that lost its cloudfront/ logs on days
    already loaded must not empty them."""
    _, days, before = loaded
    source = source_with(tiny_source, source_root, emptied="cloudfront")
    message = one_line_failure(run(home, source, days), "cdn_requests")
    requests = before["raw.cdn_requests"][0]
    assert message == (
        f"No CloudFront log files for {days[0]}, {days[1]} (2 days) under {source}/cloudfront/, but the "
        f"warehouse holds {requests:,} CloudFront requests of those days. Nothing was replaced: is the source right?"
    )
    assert_unchanged(fault_table, "empty cloudfront/ prefix", before, home)


def test_empty_access_log_prefix_fails_before_any_day_is_rewritten(
    tiny_source, source_root, loaded, home, fault_table
):
    _, days, before = loaded
    source = source_with(tiny_source, source_root, emptied="access-logs")
    result = run(home, source, days)
    expected = (
        f"No access-log objects delivered on {days[0]}, {days[1]} (2 days) under {source}/access-logs/ "
        f"(expected <prefix>{days[0]}-HH-MM-SS-<id> keys; 0 objects under the prefix). "
        "Nothing was replaced: is the source right?"
    )
    assert one_line_failure(result, "access_log_objects") == expected  # access_log_requests is skipped
    # access_log_requests refuses on its own too (selected alone in the UI, or after an hourly parse)
    alone = materialize_range(
        home, source, f"sqlite:///{source / 'users.sqlite'}", days, [access_log_requests]
    )
    assert one_line_failure(alone, "access_log_requests") == expected
    assert_unchanged(fault_table, "empty access-logs/ prefix", before, home)


def test_empty_cloudwatch_prefix_is_nodata_and_keeps_the_days(
    tiny_source, source_root, loaded, home, fault_table
):
    _, days, before = loaded
    source = source_with(tiny_source, source_root, emptied="cloudwatch")
    result = run(home, source, days)
    assert result.success, step_failures(result)  # NoData is not a failure: every asset completed
    check = check_results(result)["cloudwatch_metrics:cloudwatch_data_present"]
    assert not check.passed and check.severity.value == "WARN"
    kept = before["raw.cloudwatch_metrics"][0] // 2  # the two days hold the same number of datapoints
    assert check.description == (
        f"NoData for {days[0]}: {source}/cloudwatch/{days[0]}.jsonl is missing; kept the {kept:,} rows loaded before."
    )
    assert_unchanged(fault_table, "empty cloudwatch/ prefix (NoData)", before, home)


def test_empty_cur_prefix_keeps_the_billing_period(tiny_source, source_root, loaded, home, fault_table):
    _, days, before = loaded
    source = source_with(tiny_source, source_root, emptied="cur")
    result = run(home, source, days)
    assert result.success, step_failures(result)  # the loaded bill stands; nothing is re-estimated
    check = check_results(result)["cost_line_items:period_export_found"]
    assert not check.passed and check.severity.value == "WARN"
    assert check.description == (
        f"No cost export of {days[0]:%Y-%m} under {source}/cur/<export>/data/BILLING_PERIOD={days[0]:%Y-%m}/; "
        "kept the line items loaded before."
    )
    assert_unchanged(fault_table, "empty cur/ prefix (period kept)", before, home)


def test_truncated_inventory_data_file_fails_naming_it(tiny_source, source_root, loaded, home, fault_table):
    _, days, before = loaded
    source = source_with(tiny_source, source_root, copied="inventory")
    _, manifest = inventory_manifest(source, days[1])
    data = manifest["files"][0]
    path = source / data["key"]
    path.write_bytes(path.read_bytes()[: data["size"] // 2])
    message = one_line_failure(run(home, source, days), "inventory_objects")
    assert message.startswith(f"{source}/{data['key']}: ") and "size" in message
    assert_unchanged(fault_table, "truncated inventory data file", before, home)


def _log_object(source: Path, day) -> Path:
    return sorted((source / "access-logs").rglob(f"{day}-1*"))[0]


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_damaged_access_log_object_fails_naming_it(
    tiny_source, source_root, loaded, home, fault_table, damage
):
    _, days, before = loaded
    source = source_with(tiny_source, source_root, copied="access-logs")
    target = _log_object(source, days[1])
    mtime = target.stat().st_mtime_ns
    lines = target.read_bytes().splitlines(keepends=True)
    if damage == "truncated":
        body = b"".join(lines[: len(lines) // 2]) + lines[len(lines) // 2][:20]
    else:  # a block of bytes overwritten in the middle of the object, same size
        body = bytearray(b"".join(lines))
        body[len(body) // 3 : len(body) // 3 + 200] = b"\x00" * 200
        body = bytes(body)
    target.write_bytes(body)
    os.utime(target, ns=(mtime, mtime + 1))  # as a copy tool would set it: the object looks changed
    key = target.relative_to(source).as_posix()
    message = one_line_failure(run(home, source, days), "access_log_objects")
    assert message.startswith(f"{source}/{key} changed after it was parsed: ")
    assert "its loaded records were kept and nothing was replaced" in message
    assert_unchanged(fault_table, f"{damage} access-log object", before, home)


def test_missing_users_database_fails_and_creates_nothing(
    tiny_source, source_root, loaded, home, tmp_path, fault_table
):
    _, days, before = loaded
    source = source_with(tiny_source, source_root)
    missing = tmp_path / "typo" / "users.sqlite"
    message = one_line_failure(run(home, source, days, users_db=f"sqlite:///{missing}"), "users")
    assert message.startswith(f"The users database {missing} does not exist")
    assert not missing.exists() and not missing.parent.exists()  # SQLite was never asked to create it
    assert_unchanged(fault_table, "missing users database", before, home)


def test_cli_run_with_a_mistyped_source_fails_in_one_line_per_asset(
    tiny_source, loaded, tmp_path, fault_table
):
    """``bucketlens run --source <typo>`` as an operator types it: exit 1, a line per failed asset naming
    the path it looked in, and the loaded days untouched."""
    warehouse, days, before = loaded
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(warehouse / "warehouse.duckdb", home / "warehouse.duckdb")
    typo = tmp_path / "sorce"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_") and k != "DAGSTER_HOME"}
    env.update(BUCKETLENS_HOME=str(home), BUCKETLENS_SOURCE=str(tiny_source.root))
    cli = subprocess.run(
        [str(BIN), "run", "--source", str(typo), "--start", str(days[0])],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    lines = cli.stdout.splitlines()
    assert any(line.startswith(f"[  1/1] {days[0]} FAILED") for line in lines), cli.stdout
    assert (
        f"        inventory_objects: No S3 Inventory manifest for {days[0]} under {typo}/inventory/: "
        in "\n".join(lines)
    )
    assert (
        f"        access_log_objects: No access-log objects delivered on {days[0]} under {typo}/access-logs/ "
        f"(expected <prefix>{days[0]}-HH-MM-SS-<id> keys; 0 objects under the prefix). "
        "Nothing was replaced: is the source right?"
    ) in lines
    assert f"        users: The users database {typo}/users.sqlite does not exist " in "\n".join(lines)
    assert (
        f"        cdn_requests: No CloudFront log files for {days[0]} under {typo}/cloudfront/, "
        in "\n".join(lines)
    )
    assert "Traceback" not in cli.stdout + cli.stderr
    assert "0 of 1 day(s) succeeded" in cli.stdout
    assert not typo.exists()
    assert_unchanged(fault_table, "CLI run --source <typo>", before, home)
