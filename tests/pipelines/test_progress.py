"""Progress bars for the demo (issue 16, item 4): drawn on a terminal, never in logs or JSON."""

from __future__ import annotations

import io
import json
import logging
from datetime import date

import dagster as dg

from bucketlens.logs import configure, get_logger, log_event
from pipelines.progress import RunBars, day_progress, use_bars
from pipelines.runner import run_range

DAYS = [date(2026, 9, 20), date(2026, 9, 21)]


class Terminal(io.StringIO):
    """What tqdm writes to a terminal (``isatty`` is what makes a bar appear)."""

    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """The lines a terminal would show: a carriage return redraws the line it is on."""
    return [line.split("\r")[-1] for line in raw.split("\n")]


@dg.asset
def first() -> int:
    return 1


@dg.asset
def second(first: int) -> int:
    log_event(get_logger("assets"), "quarantine", "3 lines quarantined", logging.WARNING)
    return first + 1


TINY = dg.Definitions(assets=[first, second], jobs=[dg.define_asset_job("tiny", selection="*")])


def test_bars_only_for_text_on_a_terminal():
    assert use_bars("text", Terminal()) is True
    assert use_bars("json", Terminal()) is False  # JSON lines only, whatever the output is
    assert use_bars("text", io.StringIO()) is False  # CI logs, pipes: plain lines


def test_a_run_bar_follows_the_runs_steps_and_keeps_warnings_above_it():
    """Each of the run's two steps (one per asset) moves the bar; the warning the second asset logs
    mid-run is printed on its own line above the bar, not into it; the console handler is restored."""
    out = Terminal()
    configure("text", out)
    bars = RunBars(runs=3, steps=2, stream=out)
    with dg.instance_for_test() as instance, bars.run(2, DAYS) as on_event:
        (outcome, _) = run_range(TINY, instance, DAYS, job_name="tiny", on_event=on_event)
    assert outcome.success
    lines = [line for line in screen(out.getvalue()) if line.strip()]
    assert lines[0] == "3 lines quarantined"
    assert lines[-1].startswith("run 2/3 2026-09-20..09-21 ") and " 2/2 steps " in lines[-1]
    assert lines[-1].endswith(", done")
    log_event(get_logger("cli"), "day_done", "after the bar")
    assert out.getvalue().endswith("after the bar\n")  # written straight to the stream again


def test_generation_lines_without_a_terminal_are_events():
    """Off a terminal each generated day is a ``generate_day`` event: an indented line in text logs,
    a JSON object with the day in JSON logs."""
    text, as_json = io.StringIO(), io.StringIO()
    for fmt, out in (("text", text), ("json", as_json)):
        configure(fmt, out)
        with day_progress(2, bars=False, logger=get_logger("cli")) as day_written:
            day_written("2026-09-20: 3,006 objects, 3,098 inventory rows, 840 requests")
    assert text.getvalue() == "  2026-09-20: 3,006 objects, 3,098 inventory rows, 840 requests\n"
    record = json.loads(as_json.getvalue())
    assert (record["event"], record["day"]) == ("generate_day", "2026-09-20")


def test_runs_collect_less_often_and_leave_the_collector_as_they_found_it():
    """While runs execute, what existed before is frozen and the young generation's threshold raised;
    afterwards both are back (an exit then frees everything)."""
    import gc

    from pipelines.runner import GC_THRESHOLDS, settled_gc

    before = gc.get_threshold()
    with settled_gc():
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
