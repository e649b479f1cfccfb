"""The access-log benchmark's three sides, each run in its own child process by ``benchmarks.commands``.

- ``bucketlens``: :func:`bucketlens.formats.access_log.stage_access_logs` (parse, quarantine, dedupe,
  keep the day) on a DuckDB database file with the warehouse's memory limit, as the asset runs it.
- ``pandas``: the naive implementation of the same result: lines into a Series, one
  ``str.extract`` with the same grammar, ``to_datetime``, ``drop_duplicates``. Its memory grows
  with the input (Python strings), so the launcher skips it above a size.
- ``floor``: reading every line and nothing else (DuckDB's parallel CSV scanner), the cost no parser
  can avoid.

Each prints one JSON line (its report); the results are compared on counts and sums that any
correct implementation must reproduce exactly.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from benchmarks.clock import clock
from bucketlens.duckdb_options import set_option


def _files(root: Path) -> list[tuple[str, str]]:
    paths = sorted(p for p in (root / "access-logs").rglob("*") if p.is_file())
    return [(str(p.relative_to(root)), str(p)) for p in paths]


def _connect(workdir: Path, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(workdir / "bench.duckdb"))
    con.execute("SET enable_progress_bar = false")
    set_option(con, "memory_limit", memory_limit)
    set_option(con, "temp_directory", str(workdir / "duckdb_tmp"))
    return con


def run_bucketlens(root: Path, day: date, workdir: Path, memory_limit: str) -> dict:
    """Stage the day's records; the summary the comparison needs."""
    from bucketlens.formats.access_log import stage_access_logs
    from bucketlens.keys import KeyPattern

    files = _files(root)
    con = _connect(workdir, memory_limit)
    try:
        with clock() as took:
            load = stage_access_logs(con, files, day, KeyPattern())
        summary = con.execute(
            "SELECT count(*), count(DISTINCT request_id), coalesce(sum(bytes_sent), 0), "
            "count(DISTINCT user_id) FROM stage_access_log_requests"
        ).fetchall()[0]
    finally:
        con.close()
    return {
        **took.report(),
        "lines": load.lines,
        "quarantined": load.quarantined,
        "duplicates": load.duplicates,
        "outside_day": load.outside_day,
        "result": dict(zip(("rows", "request_ids", "bytes_sent", "users"), map(int, summary), strict=True)),
        "duckdb_memory_limit": memory_limit,
    }


def run_pandas(root: Path, day: date) -> dict:
    """The naive baseline: every line a Python string, one vectorised regex over them."""
    import pandas as pd

    from bucketlens.formats.access_log import ACCESS_LOG_REGEX

    started = time.perf_counter()  # wall time only: pandas runs on one core
    lines: list[str] = []
    for _, path in _files(root):
        with open(path, encoding="utf-8") as handle:
            lines.extend(line.rstrip("\r\n") for line in handle)
    series = pd.Series(lines, dtype=object)
    series = series[series.str.strip() != ""]
    parts = series.str.extract(ACCESS_LOG_REGEX)
    parts = parts[parts[0].notna()]
    when = pd.to_datetime(parts[2], format="%d/%b/%Y:%H:%M:%S %z", errors="coerce", utc=True)
    parts = parts[when.dt.date == day]
    decoded = [
        None if key == "-" else _decode_key(key, op.startswith("REST."))
        for key, op in zip(parts[7], parts[6], strict=True)
    ]
    frame = pd.DataFrame(
        {"request_id": parts[5], "operation": parts[6], "key": pd.Series(decoded, index=parts.index, dtype=object),
         "sent": parts[11]}
    )  # fmt: skip
    unique = frame[frame["request_id"] != "-"].drop_duplicates(["request_id", "operation", "key"])
    frame = pd.concat([unique, frame[frame["request_id"] == "-"]])
    sent = pd.to_numeric(frame["sent"].where(frame["sent"] != "-"), errors="coerce").fillna(0)
    users = frame["key"].str.extract(r"^users/([A-Za-z0-9_-]+)/", expand=False).fillna("_shared")
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "lines": len(series),
        "result": {
            "rows": len(frame),
            "request_ids": int(frame["request_id"].nunique()),
            "bytes_sent": int(sent.sum()),
            "users": int(users.nunique()),
        },
    }


def _decode_key(text: str, rest: bool) -> str:
    """REST.* keys are URL-encoded twice; the others once, form-style."""
    from urllib.parse import unquote, unquote_plus

    return unquote(unquote(text)) if rest else unquote_plus(text)


def run_floor(root: Path) -> dict:
    """Read every line of every object and count them: the I/O and line-splitting floor."""
    paths = [path for _, path in _files(root)]
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        with clock() as took:
            lines, chars = con.execute(
                "SELECT count(*), sum(length(line)) FROM read_csv($paths, auto_detect = false, "
                "columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', header = false)",
                {"paths": paths},
            ).fetchall()[0]
    finally:
        con.close()
    return {**took.report(), "lines": int(lines), "chars": int(chars or 0)}


if __name__ == "__main__":
    side, root_arg, day_arg = sys.argv[1:4]
    root, day = Path(root_arg), date.fromisoformat(day_arg)
    if side == "bucketlens":
        limit = os.environ.get("BUCKETLENS_DUCKDB_MEMORY_LIMIT", "700MB")
        report = run_bucketlens(root, day, Path(sys.argv[4]), limit)
    elif side == "pandas":
        report = run_pandas(root, day)
    else:
        report = run_floor(root)
    print(json.dumps(report))
