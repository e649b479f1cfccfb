"""The fault suite's table: every fault test adds one row, and the run prints them all at the end.

Why a table and not only assertions: the figures (trials, sent, duplicated, lost, dead, rows before and
after) are the product's promise to operators — nothing lost, nothing sent twice, nothing wiped — and the
README quotes them. A test asserts its own row (0 duplicated, 0 lost, rows equal); the table shows the
whole picture on every run, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import pytest

FAULT_ROWS = pytest.StashKey[list]()


@dataclass(frozen=True)
class FaultRow:
    """One fault scenario's outcome. Counts that do not apply to a scenario stay ``None`` (shown as -)."""

    suite: str  # alerts | raw | cost | ...
    case: str  # what was broken, in a few words
    database: str = "-"  # sqlite | postgresql | duckdb
    trials: int = 1
    sent: int | None = None
    duplicated: int | None = None
    lost: int | None = None
    dead: int | None = None
    rows_before: int | None = None
    rows_after: int | None = None


HEADERS = [f.name for f in fields(FaultRow)]


def format_table(rows: list[FaultRow]) -> list[str]:
    """Aligned text lines: a header, then one line per row in the order they were recorded."""
    cells = [HEADERS] + [
        ["-" if getattr(r, h) is None else f"{getattr(r, h)}" for h in HEADERS] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    numeric = {h for h in HEADERS if h not in ("suite", "case", "database")}
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if header in numeric else cell.ljust(width)
            for cell, width, header in zip(row, widths, HEADERS, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return lines


@pytest.fixture
def fault_table(request: pytest.FixtureRequest):
    """``fault_table(FaultRow(...))`` records a row for the end-of-run table."""
    rows = request.config.stash.setdefault(FAULT_ROWS, [])
    return rows.append


def send_to_controller(config) -> None:
    """Under pytest-xdist each worker records its own rows: hand them to the controller, which prints."""
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_rows"] = [asdict(row) for row in config.stash.get(FAULT_ROWS, [])]


def receive_from_worker(config, node) -> None:
    """The controller's side of ``send_to_controller``."""
    rows = getattr(node, "workeroutput", {}).get("fault_rows", [])
    config.stash.setdefault(FAULT_ROWS, []).extend(FaultRow(**row) for row in rows)


def print_fault_table(terminalreporter, config) -> None:
    rows = sorted(config.stash.get(FAULT_ROWS, []), key=lambda r: (r.suite, r.case, r.database))
    if not rows:
        return
    terminalreporter.write_sep("-", "fault suite")
    for line in format_table(rows):
        terminalreporter.write_line(line)
