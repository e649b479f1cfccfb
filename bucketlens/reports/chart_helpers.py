"""Report charts drawn on the idle cores: helper processes beside the one rendering the pages.

Why: matplotlib draws on one core (60–100 ms a chart, under the GIL), and a range run's reports draw
hundreds of charts — the demo month 140, a 90-day backfill 360 — while DuckDB, idle during the reports,
leaves the other cores unused. ``draw_all`` hands the charts out one at a time, first come first served,
to this process and to ``cpus - 1`` helpers, so a helper still starting (importing matplotlib takes ~1 s)
simply takes fewer.

Why not ``multiprocessing``: its spawn and forkserver start methods import the parent's main module in
every worker — for the ``bucketlens`` command that is Dagster, seconds a worker — and fork copies a
process whose DuckDB and Dagster threads may hold locks the copy would wait on forever. A helper here is
``python -m bucketlens.reports.chart_helpers``: it imports the charts module only, reads a pickled
``Chart`` from its stdin, writes the PNG to its stdout, and ends when its stdin closes — so it cannot
outlive the process that started it. Helpers are kept for the life of the process (the demo's and a
backfill's report steps share them) and closed at exit.

A helper that fails or dies costs nothing but time: its charts are drawn here, with this process's
error if the chart itself cannot be drawn, and a new helper is started the next time.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from bucketlens.cpus import usable_cpus
from bucketlens.reports.charts import Chart

log = logging.getLogger(__name__)

# Fewer charts than this are drawn here: a day's run draws 4, and a helper's start (~1 s of a core)
# would be more than they cost.
MIN_CHARTS = 12
MAX_HELPERS = 3
# The package root, so a helper imports this very code whatever the caller's working directory.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class HelperFailed(Exception):
    """The helper did not give a PNG back: it died or answered garbage (it is dropped)."""


class ChartFailed(Exception):
    """The helper could not draw the chart (it answered with the error and is still usable)."""


class ChartHelper:
    """One helper process, used by one thread at a time."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        self.closed = False  # by this process (at exit, e.g. after Ctrl-C), not failed
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bucketlens.reports.chart_helpers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            start_new_session=True,  # Ctrl-C is the parent's to handle; the helper ends with its stdin
        )

    def draw(self, chart: Chart) -> bytes:
        try:
            pickle.dump(chart, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
            status, value = pickle.load(self.process.stdout)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
            raise HelperFailed(f"chart helper {self.process.pid} gone: {exc}") from exc
        if status != "ok":
            raise ChartFailed(f"chart helper {self.process.pid}: {value}")
        return value

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        """Closing its stdin ends the helper; it is killed if it does not end within 2 s."""
        self.closed = True
        try:
            self.process.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


_HELPERS: list[ChartHelper] = []
# One draw_all at a time uses the helpers; another thread drawing meanwhile draws in its own process.
_USING = threading.Lock()


def helper_count(charts: int, cpus: int | None = None) -> int:
    """How many helpers a batch of ``charts`` is worth: one per core besides this process's, none on one
    core. A batch of fewer than ``MIN_CHARTS`` starts none but uses those already running: a range run's
    first report starts them, and the other reports' few charts a run (a week's run of the demo: 7 weekly
    and 7 monthly charts) then cost no start."""
    cpus = cpus if cpus is not None else usable_cpus()
    if charts < 2 or not sys.executable:
        return 0
    wanted = max(0, min(cpus - 1, MAX_HELPERS))
    if charts < MIN_CHARTS:
        return min(wanted, sum(1 for h in _HELPERS if h.alive()))
    return wanted


def _helpers(count: int) -> list[ChartHelper]:
    """``count`` running helpers: the kept ones that are alive, new ones for the rest."""
    for dead in [h for h in _HELPERS if not h.alive()]:
        _HELPERS.remove(dead)
        dead.close()
    while len(_HELPERS) < count:
        try:
            _HELPERS.append(ChartHelper())
        except OSError as exc:  # no process can be started here: draw in this one
            log.warning("cannot start a chart helper process (%s): drawing charts in this process", exc)
            break
    return _HELPERS[:count]


def draw_all(charts: Sequence[Chart], helpers: int | None = None) -> list[bytes]:
    """Every chart's PNG, in order — the bytes ``Chart.png`` gives here (``helpers``: how many helper
    processes to use; default ``helper_count``)."""
    count = helper_count(len(charts)) if helpers is None else helpers
    if count == 0 or not _USING.acquire(blocking=False):
        return [c.png() for c in charts]
    try:
        return _draw_shared(charts, _helpers(count))
    finally:
        _USING.release()


def _draw_shared(charts: Sequence[Chart], helpers: list[ChartHelper]) -> list[bytes]:
    """The charts handed out one at a time to this thread and to a feeding thread per helper; a chart
    a helper could not draw, or lost with it, is drawn here afterwards."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(charts)):
        todo.put(i)
    drawn: list[bytes | None] = [None] * len(charts)

    def feed(helper: ChartHelper) -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                drawn[i] = helper.draw(charts[i])
            except ChartFailed:
                continue  # drawn here afterwards, where the error is raised with its traceback
            except HelperFailed as exc:
                if helper.closed:  # this process is exiting (Ctrl-C): nothing to report
                    return
                log.warning("%s; drawing its charts in this process", exc)
                helper.process.kill()  # dropped and replaced at the next draw_all
                return

    feeders = [
        threading.Thread(target=feed, args=(h,), name="chart-helper-feed", daemon=True) for h in helpers
    ]
    for t in feeders:
        t.start()
    while True:
        try:
            i = todo.get_nowait()
        except queue.Empty:
            break
        drawn[i] = charts[i].png()
    for t in feeders:
        t.join()
    return [png if png is not None else charts[i].png() for i, png in enumerate(drawn)]


@atexit.register
def close_helpers() -> None:
    while _HELPERS:
        _HELPERS.pop().close()


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    """A helper's loop: a pickled ``Chart`` in, ``("ok", png)`` or ``("error", text)`` out, until the
    input ends."""
    while True:
        try:
            chart = pickle.load(source)
        except EOFError:
            return
        try:
            answer = ("ok", chart.png())
        except Exception as exc:  # noqa: BLE001 - the parent draws it again and raises there
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
            sink.flush()
        except BrokenPipeError:  # the parent is gone
            return


if __name__ == "__main__":
    # the answers get the real stdout; anything printed while drawing goes to stderr instead
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)
