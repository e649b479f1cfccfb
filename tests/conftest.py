"""Shared fixtures: tiny data made by the project's own generator, and isolated environments."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from unittest import mock

import pytest

from tests.faults.table import (  # noqa: F401 (fixture)
    fault_table,
    print_fault_table,
    receive_from_worker,
    send_to_controller,
)

pytest_plugins = ["tests.postgres"]  # a real PostgreSQL server: postgres_url, alert_db_url


# The test files that take longest (seconds summed over their tests from the JUnit report of
# `pytest -n 2 --dist loadfile --no-loadscope-reorder --junitxml=F`, 2026-12-07), run first, longest first.
# scripts/test.sh gives each xdist worker whole files in collection order (--no-loadscope-reorder); a long
# file started last would leave the other core idle for its whole run. Every file of ~14 s or more is here.
LONGEST_FILES_FIRST = (
    "tests/engines/test_spark_demo.py",  # 72 s
    "tests/faults/test_action_faults.py",  # 69 s
    "tests/pipelines/test_cli.py",  # 51 s
    "tests/faults/test_alert_faults.py",  # 49 s
    "tests/assets/test_window_equality.py",  # 46 s
    "tests/engines/test_spark.py",  # 44 s
    "tests/anomaly/test_quality.py",  # 37 s
    "tests/reports/test_windows.py",  # 36 s
    "tests/faults/test_raw_faults.py",  # 34 s
    "tests/pipelines/test_daemon_runs.py",  # 33 s
    "tests/assets/test_raw_assets.py",  # 33 s
    "tests/reports/test_chart_helpers.py",  # 31 s
    "tests/assets/test_raw_window_equality.py",  # 30 s
    "tests/assets/test_window_runs.py",  # 27 s
    "tests/pipelines/test_ui_graphql.py",  # 24 s
    "tests/benchmarks/test_daily_bench.py",  # 23 s
    "tests/assets/test_usage_cost.py",  # 23 s
    "tests/pipelines/test_cli_alerts.py",  # 19 s
    "tests/reports/test_cdn_sections.py",  # 18 s
    "tests/benchmarks/test_attribution.py",  # 17 s
    "tests/savings/test_savings_assets.py",  # 17 s
    "tests/reports/test_cost_reports.py",  # 15 s
    "tests/assets/test_access_log_incremental.py",  # 15 s
    "tests/pipelines/test_automation.py",  # 15 s
    "tests/alerts/test_alert_state.py",  # 14 s
)


def _file_rank(item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return LONGEST_FILES_FIRST.index(path) if path in LONGEST_FILES_FIRST else len(LONGEST_FILES_FIRST)


def pytest_collection_modifyitems(config, items):
    """The longest files first (a stable sort: every other file keeps its place), and benchmark-scale
    tests (``@pytest.mark.slow``) only when asked for with ``-m slow``."""
    items.sort(key=_file_rank)
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="benchmark-scale: opt in with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The fault suite's table (tests/faults/table.py), printed on every run that recorded rows."""
    print_fault_table(terminalreporter, config)


def pytest_sessionfinish(session, exitstatus):
    send_to_controller(session.config)


def pytest_testnodedown(node, error):
    """xdist controller: gather each worker's fault rows (``-n 2`` in scripts/test.sh)."""
    receive_from_worker(node.config, node)


TINY_START = date(2026, 10, 1)
TINY_DAYS = 10
TINY_USERS = 60


@dataclass(frozen=True)
class TinySource:
    root: Path
    start: date
    days: int
    users: int
    summary: object

    @property
    def users_db(self) -> str:
        return f"sqlite:///{self.root / 'users.sqlite'}"


@contextmanager
def bucketlens_env(
    home: Path, source: str | Path, users_db: str | None = None, **extra: str
) -> Iterator[None]:
    """Point every BUCKETLENS_* variable at test paths for the duration (nothing leaks between tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUCKETLENS_") and k != "DAGSTER_HOME"}
    env.update({"BUCKETLENS_HOME": str(home), "BUCKETLENS_SOURCE": str(source), **extra})
    if users_db:
        env["BUCKETLENS_USERS_DB"] = users_db
    with mock.patch.dict(os.environ, env, clear=True):
        yield


@pytest.fixture(scope="session")
def tiny_source(tmp_path_factory) -> TinySource:
    """60 users × 10 days in AWS's formats (CSV inventory), generated once per test session."""
    from synthetic import generate

    root = tmp_path_factory.mktemp("tiny-source")
    summary = generate(root, TINY_START, TINY_DAYS, TINY_USERS, seed=11)
    return TinySource(root, TINY_START, TINY_DAYS, TINY_USERS, summary)


@pytest.fixture(scope="session")
def tiny_s3_source(tmp_path_factory) -> TinySource:
    """The tiny source of a bucket without a CDN in front: the same S3 files as ``tiny_source`` (CloudFront
    data comes from its own random stream), no CloudFront logs, metrics or line items. The report pages
    are compared with the frozen pre-CDN reference pages on it."""
    from synthetic import generate

    root = tmp_path_factory.mktemp("tiny-s3-source")
    summary = generate(root, TINY_START, TINY_DAYS, TINY_USERS, seed=11, cdn_log_format=None)
    return TinySource(root, TINY_START, TINY_DAYS, TINY_USERS, summary)
