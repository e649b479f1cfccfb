"""Charts drawn by helper processes are the bytes this process draws, whatever happens to the helpers."""

import os
import signal

import pytest

from bucketlens.reports import chart_helpers
from bucketlens.reports.chart_helpers import ChartFailed, ChartHelper, draw_all, helper_count
from bucketlens.reports.charts import Chart
from tests.reports.test_charts import SEQUENCE

CHARTS = [Chart(kind, args) for kind, args in SEQUENCE]


@pytest.fixture
def here():
    """Each chart drawn in this process, the reference."""
    return [c.png() for c in CHARTS]


def test_a_helper_process_draws_the_bytes_this_process_draws(here):
    helper = ChartHelper()
    try:
        assert [helper.draw(c) for c in CHARTS] == here
        assert helper.process.pid != os.getpid()
    finally:
        helper.close()
    assert helper.process.returncode == 0  # its stdin closed, it ended on its own


def test_draw_all_with_helpers_keeps_the_order_and_the_bytes(here):
    assert draw_all(CHARTS * 3, helpers=1) == here * 3
    assert draw_all(CHARTS * 3, helpers=2) == here * 3
    assert len([h for h in chart_helpers._HELPERS if h.alive()]) == 2  # kept for the next reports


def test_a_helper_killed_leaves_its_charts_to_this_process_and_is_replaced(here):
    draw_all(CHARTS, helpers=1)
    (helper,) = chart_helpers._HELPERS[:1]
    os.kill(helper.process.pid, signal.SIGKILL)
    helper.process.wait()
    assert draw_all(CHARTS * 2, helpers=1) == here * 2
    assert chart_helpers._HELPERS[0] is not helper and chart_helpers._HELPERS[0].alive()


def test_a_helper_dying_mid_batch_loses_no_chart(here, monkeypatch):
    """The helper answers garbage after its third chart: the rest are drawn here, nothing is lost."""
    answered = []
    real = ChartHelper.draw

    def flaky(self, chart):
        if len(answered) == 3:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        answered.append(chart)
        return real(self, chart)

    monkeypatch.setattr(ChartHelper, "draw", flaky)
    assert draw_all(CHARTS * 4, helpers=1) == here * 4
    assert len(answered) >= 4  # the helper did take charts before it died


BAD = Chart("bars", ("no values", ["a", "b"], [1.0], "usd"))  # two labels, one value


def test_a_chart_that_cannot_be_drawn_raises_this_process_error():
    with pytest.raises(ValueError, match="zip"):
        draw_all([BAD, *CHARTS, BAD], helpers=1)


def test_a_helper_answers_a_chart_it_cannot_draw_with_the_error_and_draws_the_next(here):
    helper = ChartHelper()
    try:
        with pytest.raises(ChartFailed, match="ValueError: zip"):
            helper.draw(BAD)
        assert helper.alive()
        assert helper.draw(CHARTS[0]) == here[0]
    finally:
        helper.close()


class _Running:
    def __init__(self, alive: bool) -> None:
        self._alive = alive

    def alive(self) -> bool:
        return self._alive


def test_how_many_helpers(monkeypatch):
    monkeypatch.setattr(chart_helpers, "_HELPERS", [])
    assert helper_count(chart_helpers.MIN_CHARTS - 1, cpus=8) == 0  # a daily run's 4 charts: drawn here
    # helpers already running (a range's first report started them) also draw a few charts; a dead one not
    monkeypatch.setattr(chart_helpers, "_HELPERS", [_Running(True), _Running(False), _Running(True)])
    assert helper_count(7, cpus=2) == 1
    assert helper_count(7, cpus=8) == 2
    assert helper_count(1, cpus=8) == 0  # one chart: nothing to share
    monkeypatch.setattr(chart_helpers, "_HELPERS", [])
    assert helper_count(140, cpus=1) == 0
    assert helper_count(140, cpus=2) == 1  # this process draws too
    assert helper_count(360, cpus=16) == chart_helpers.MAX_HELPERS


def test_cores_without_an_affinity_api_are_the_cpu_count(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # macOS has none
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert chart_helpers.usable_cpus() == 6
    assert helper_count(140) == 3
