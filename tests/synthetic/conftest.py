"""Generated data sets shared by the synthetic-data tests (generated once per session: ~10 s)."""

from __future__ import annotations

from datetime import date

import pytest

from synthetic import generate

START = date(2026, 9, 24)


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """60 users x 10 days, CSV, small data files so a report spans several files."""
    out = tmp_path_factory.mktemp("small")
    lines: list[str] = []
    summary = generate(out, START, 10, 60, seed=7, progress=lines.append, inventory_rows_per_file=2_500)
    return summary, lines


@pytest.fixture(scope="session")
def mid(tmp_path_factory):
    """300 users x 15 days: large enough for every storage class and every anomaly pattern."""
    return generate(tmp_path_factory.mktemp("mid"), START, 15, 300, seed=11)
