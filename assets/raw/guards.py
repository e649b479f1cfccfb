"""Refusing to replace a loaded day from a source that is missing or broken.

Every raw partition is written as "delete the day, insert what the source holds now". That is only
safe when the source really holds the day: a typo in ``--source``, an empty prefix or a truncated file
would otherwise replace loaded days with nothing. So each raw asset checks its source for every day of
the window *before* it deletes anything, and an expected condition (a file or prefix missing, a file
that is not what its manifest says) fails the step with one line naming what was looked for and
where — a ``dg.Failure``, shown as such in the Dagster UI and by ``bucketlens run`` — never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from assets.metadata import markdown_table
from bucketlens.formats.errors import SourceFormatError


@contextmanager
def source_failures() -> Iterator[None]:
    """A source file that cannot be used fails the step with its one-line message (file, line, why)."""
    try:
        yield
    except SourceFormatError as exc:
        raise dg.Failure(description=one_line(str(exc))) from None


def one_line(text: str) -> str:
    """The message as one line: error texts from drivers and parsers may span several."""
    return " ".join(text.split())


def day_is_over(day: date, now: datetime | None = None) -> bool:
    """Whether every hour of ``day`` (UTC) has passed: only then may its source be called missing."""
    now = now or datetime.now(UTC)
    return now.replace(tzinfo=None) >= datetime(day.year, day.month, day.day) + timedelta(days=1)


def days_text(days: list[date]) -> str:
    """``2026-10-03`` or ``2026-10-03, 2026-10-05 (2 days)`` for a message."""
    shown = ", ".join(str(d) for d in days[:5]) + (", ..." if len(days) > 5 else "")
    return shown if len(days) == 1 else f"{shown} ({len(days)} days)"


QUARANTINE_SAMPLE_SQL = """
SELECT file, line_number, reason FROM raw.quarantine WHERE source = ? AND partition_date = ?
ORDER BY file, line_number LIMIT 5
"""


def quarantine_sample(con, source: str, day) -> dict:
    """The first quarantined lines of a source's day as a metadata table (empty when none): an operator
    sees file, line and reason without querying the warehouse."""
    samples = con.execute(QUARANTINE_SAMPLE_SQL, [source, day]).fetchall()
    return {"quarantine_sample": markdown_table(["file", "line", "reason"], samples)} if samples else {}
