"""Measured quality (issue: recall ≥ 0.95, precision ≥ 0.9 over injected anomalies; false flags on < 1 %
of user-days of a normal month) on generated data run through the real raw/usage/cost assets.

The default run covers one seed and population with anomalies and one normal period (~45 s); the other
seed, the larger population and a full 30-day normal month are ``slow`` (run with ``-m slow``).
"""

from __future__ import annotations

import pytest

from bucketlens.anomaly.evaluation import evaluate, run_detectors
from bucketlens.anomaly.rules import load_rules
from tests.anomaly.harness import build_warehouse, connect


def _evaluate(tmp_path, users: int, days: int, seed: int, anomalies: bool):
    wh = build_warehouse(tmp_path, users, days, seed, anomalies)
    con = connect(wh)
    try:
        tables = run_detectors(con, wh.days, load_rules())
        return evaluate(con, wh.labels, wh.days, tables)
    finally:
        con.close()


def _assert_quality(ev) -> None:
    overall = ev.overall
    print(ev.table())
    assert overall.labelled >= 9, ev.as_dict()
    assert overall.recall >= 0.95, ev.table()
    assert overall.precision >= 0.9, ev.table()
    assert ev.false_flag_rate < 0.01, ev.table()


QUALITY_CASES = [
    pytest.param(7, 300, 14, id="seed7-300users"),
    pytest.param(11, 300, 21, id="seed11-300users", marks=pytest.mark.slow),
    pytest.param(7, 1000, 21, id="seed7-1000users", marks=pytest.mark.slow),
    pytest.param(11, 1000, 21, id="seed11-1000users", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("seed", "users", "days"), QUALITY_CASES)
def test_detectors_find_injected_anomalies(tmp_path, seed, users, days):
    ev = _evaluate(tmp_path, users, days, seed, anomalies=True)
    _assert_quality(ev)
    # every labelled pattern is present and found on this data
    assert all(p.labelled >= 1 for p in ev.patterns.values()), ev.table()


NORMAL_CASES = [
    pytest.param(7, 300, 14, id="seed7-300users-2weeks"),
    pytest.param(11, 300, 30, id="seed11-300users-month", marks=pytest.mark.slow),
    pytest.param(7, 1000, 30, id="seed7-1000users-month", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("seed", "users", "days"), NORMAL_CASES)
def test_a_normal_period_raises_almost_no_flags(tmp_path, seed, users, days):
    ev = _evaluate(tmp_path, users, days, seed, anomalies=False)
    print(ev.table())
    assert ev.overall.labelled == 0
    assert ev.false_flag_rate < 0.01, ev.table()
    assert ev.score_anomaly_rate < 0.01, ev.table()
    assert ev.user_days >= users * days * 0.8
