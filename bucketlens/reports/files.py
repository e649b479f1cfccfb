"""Where report files live and how they are written: atomically, so a reader (a browser, the Slack
uploader, a finance script) never sees half a file and a rerun replaces the previous file in one step."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path


def report_path(reports_dir: str | Path, report: str, stem: str, suffix: str) -> Path:
    """``<reports_dir>/<report>/<stem><suffix>``, e.g. ``daily_report/2026-10-05.html``."""
    return Path(reports_dir) / report / f"{stem}{suffix}"


def day_stem(day: date) -> str:
    return day.isoformat()


def month_stem(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def write_atomic(path: Path, content: bytes | str) -> Path:
    """Write to a temporary file in the target folder, then rename it over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def temp_sibling(path: Path) -> Path:
    """A fresh temporary name beside ``path`` for writers that need a file name (DuckDB ``COPY``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)
