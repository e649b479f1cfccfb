"""Progress bars for the commands people watch (``bucketlens demo``): one for the generation, one per
Dagster run, drawn with tqdm only on a terminal.

Logs (CI, ``| tee``) and ``BUCKETLENS_LOG_FORMAT=json`` get no bars at all: there the per-day lines
(or JSON events) are the progress, exactly as before. While a bar is drawn, the ``bucketlens`` console
handler writes through ``tqdm.write`` so a warning printed mid-run lands above the bar, not through it.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, TextIO

from tqdm import tqdm

from bucketlens.logs import ROOT, log_event

if TYPE_CHECKING:
    import dagster as dg

BAR_FORMAT = "{desc} {bar} {n_fmt}/{total_fmt} {unit} [{elapsed}]{postfix}"
STEP_ENDS = {"STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"}


def use_bars(log_format: str, stream: TextIO | None = None) -> bool:
    """Bars only for a person: text logs on a terminal."""
    stream = stream or sys.stdout
    return log_format == "text" and stream.isatty()


class _AboveTheBar:
    """A stream for the console log handler while a bar is drawn: each record is written above it."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        if text.strip():
            tqdm.write(text.rstrip("\n"), file=self.stream)

    def flush(self) -> None:
        self.stream.flush()


@contextmanager
def bar(desc: str, total: int, unit: str, stream: TextIO | None = None) -> Iterator[tqdm]:
    """A tqdm bar on ``stream`` (stdout) that stays on screen when done; ``bucketlens`` log lines
    printed meanwhile appear above it."""
    stream = stream or sys.stdout
    handlers = [
        h
        for h in logging.getLogger(ROOT).handlers
        if isinstance(h, logging.StreamHandler) and h.stream is stream
    ]
    # A terminal that reports no width (some ptys) would get an empty bar: take COLUMNS or 100 instead.
    width = shutil.get_terminal_size((100, 24)).columns
    progress = tqdm(
        total=total, desc=desc, unit=unit, file=stream, bar_format=BAR_FORMAT, leave=True, ncols=width
    )
    for h in handlers:
        h.setStream(_AboveTheBar(stream))
    try:
        yield progress
    finally:
        progress.close()
        for h in handlers:
            h.setStream(stream)


@contextmanager
def day_progress(days: int, bars: bool, logger: logging.Logger) -> Iterator[Callable[[str], None]]:
    """The ``progress`` callback of ``synthetic.generate``: its line per written day advances a bar on
    a terminal, or is logged as a ``generate_day`` event (a text line, or JSON with the day)."""
    if not bars:
        yield lambda line: log_event(logger, "generate_day", "  " + line, day=line[:10])
        return
    with bar("generate", days, "days") as progress:

        def day_written(line: str) -> None:
            progress.set_postfix_str(line.split(",")[0], refresh=False)  # "<day>: <n> objects"
            progress.update(1)

        yield day_written


class RunBars:
    """A bar per Dagster run, advanced by the run's own step events (every asset is a step), the
    running step shown beside it."""

    def __init__(self, runs: int, steps: int, stream: TextIO | None = None):
        self.runs, self.steps, self.stream = runs, steps, stream

    @contextmanager
    def run(self, index: int, days: list[date]) -> Iterator[Callable[[dg.EventLogEntry], None]]:
        span = f"{days[0]}" if len(days) == 1 else f"{days[0]}..{days[-1]:%m-%d}"
        with bar(f"run {index}/{self.runs} {span}", self.steps, "steps", self.stream) as progress:

            def on_event(entry: dg.EventLogEntry) -> None:
                event = entry.dagster_event
                if event is None:
                    return
                if event.event_type_value == "STEP_START":
                    progress.set_postfix_str(event.step_key or "", refresh=True)
                elif event.event_type_value in STEP_ENDS:
                    progress.update(1)

            yield on_event
            progress.set_postfix_str("done", refresh=False)
