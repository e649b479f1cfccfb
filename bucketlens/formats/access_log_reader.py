"""Reading access-log objects into the parse target: which objects go into which UNION ALL branch.

Why this module exists: getting every line of many objects into DuckDB fast and exactly is its own
problem — large objects are scanned by the CSV reader, small ones read whole in batches, statements
that DuckDB refuses are retried branch by branch and then object by object, and objects that are not
valid UTF-8 are decoded here with replacement characters so their damaged lines are quarantined.
``access_log`` calls :func:`read_logs`; the parse itself is ``access_log.sql``.
"""

from __future__ import annotations

import os

import duckdb

from bucketlens.formats.access_log_schema import FRAGMENTS, parse_statement
from bucketlens.formats.errors import SourceFormatError

# How objects are read (a statement joins up to MAX_BRANCHES branches with UNION ALL; the branches
# of a statement run in parallel). An object of SCAN_BYTES or more gets a branch of its own, read by
# DuckDB's CSV scanner in bounded memory; smaller ones are read whole, several to a branch of up to
# BATCH_BYTES. Measured: a branch per object costs planning time that grows faster than the number
# of branches (300 objects of 140 lines: 2.4 s; 1,500: 38 s), and reading a 117 MB object whole on
# each of two threads ran out of the 700 MB memory limit.
SCAN_BYTES = 16 << 20
BATCH_BYTES = 32 << 20
MAX_BRANCHES = 32
# Scans in one statement, per thread: each scan keeps its object's window of lines in memory, and
# 40 scans of 117 MB objects in one statement ran out of the 700 MB limit (10 M lines); measured
# with 2 threads, 64 MB objects: 2 scans a statement 23.4 s, 4 scans 11.6 s for 3.5 M lines.
SCANS_PER_THREAD = 2
# One batch of objects, read whole by DuckDB (which refuses invalid UTF-8: then _read_lossy).
_TEXTS = (
    "(SELECT list_position($paths, filename) AS file_idx, content, FALSE AS lossy FROM read_text({files}))"
)


def branch_lines(kind: str, indexes: list[int]) -> str:
    """The numbered raw lines of one branch: a 'scan' of one object ($path<i>), or a 'whole' read
    of a batch of objects ($batch<first i>); i is the object's 1-based position in $paths."""
    if kind == "scan":
        return FRAGMENTS["scanned_lines"].format(index=indexes[0])
    return FRAGMENTS["whole_file_lines"].format(texts=_TEXTS.format(files=f"$batch{indexes[0]}"))


def _branch_params(kind: str, indexes: list[int], paths: list[str]) -> dict:
    if kind == "scan":
        return {f"path{indexes[0]}": paths[indexes[0] - 1]}
    return {f"batch{indexes[0]}": [paths[i - 1] for i in indexes]}


def _branches(paths: list[str], threads: int) -> list[tuple[str, list[int]]]:
    """Branches in file order: ('scan', [i]) for each large object, ('whole', [i, j, …]) for runs
    of small ones, at least two per thread when the small objects allow it."""
    sizes = [os.path.getsize(path) for path in paths]
    small = sum(size for size in sizes if size < SCAN_BYTES)
    limit = max(1, min(BATCH_BYTES, small // (2 * threads)))
    branches: list[tuple[str, list[int]]] = []
    batch: list[int] = []
    filled = 0
    for index, size in enumerate(sizes, start=1):
        if size >= SCAN_BYTES:
            branches.append(("scan", [index]))
            continue
        if batch and filled + size > limit:
            branches.append(("whole", batch))
            batch, filled = [], 0
        batch.append(index)
        filled += size
    if batch:
        branches.append(("whole", batch))
    return branches


def _statements(branches: list[tuple[str, list[int]]], max_scans: int) -> list[list[tuple[str, list[int]]]]:
    """The branches in statements of at most MAX_BRANCHES, of which at most ``max_scans`` scans."""
    statements: list[list[tuple[str, list[int]]]] = []
    scans = 0
    for branch in branches:
        scan = branch[0] == "scan"
        if not statements or len(statements[-1]) == MAX_BRANCHES or (scan and scans == max_scans):
            statements.append([])
            scans = 0
        statements[-1].append(branch)
        scans += scan
    return statements


def read_logs(con, names: list[str], paths: list[str], target: str, user_id: str) -> None:
    """Parse every line of the files into ``target``, a statement per MAX_BRANCHES branches. If a
    statement fails (an object the CSV scanner cannot read exactly, or one that is not valid
    UTF-8), its branches are retried one by one, and a failing branch's objects are read whole one
    by one, decoded here with replacement characters if they are not valid UTF-8, so that their
    damaged lines are quarantined, not guessed at (loops over files, never over lines)."""
    threads = int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])
    for group in _statements(_branches(paths, threads), SCANS_PER_THREAD * threads):
        if not _insert_branches(con, group, names, paths, target, user_id):
            for branch in group:
                if not _insert_branches(con, [branch], names, paths, target, user_id):
                    for index in branch[1]:
                        _read_whole(con, index, names, paths, target, user_id)


def _insert_branches(con, branches, names, paths, target, user_id) -> bool:
    """One INSERT of the lines of ``branches`` (UNION ALL); False if DuckDB refused to read them."""
    lines = "\nUNION ALL\n".join(branch_lines(kind, indexes) for kind, indexes in branches)
    params: dict[str, object] = {"names": names}
    if any(kind == "whole" for kind, _ in branches):  # only whole reads name $paths; DuckDB refuses an
        params["paths"] = paths  # unused parameter, which sent every scan-only statement to the fallback
    for kind, indexes in branches:
        params |= _branch_params(kind, indexes, paths)
    try:
        con.execute(parse_statement("pieces", target, lines, user_id), params)
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.OutOfMemoryException):
        return False  # a statement of several branches that ran out of memory is retried branch by branch
    return True


def _read_whole(con, index: int, names: list[str], paths: list[str], target: str, user_id: str) -> None:
    """One object read whole: as UTF-8 by DuckDB, or decoded here if it is not valid UTF-8."""
    try:
        con.execute(
            parse_statement("pieces", target, branch_lines("whole", [index]), user_id),
            {"names": names, "paths": paths} | _branch_params("whole", [index], paths),
        )
        return
    except duckdb.InvalidInputException as exc:
        if "UTF-8" not in str(exc):
            raise SourceFormatError(names[index - 1], str(exc)) from exc
    texts = _read_lossy(con, index, paths[index - 1], target)
    try:
        con.execute(
            parse_statement("pieces", target, FRAGMENTS["whole_file_lines"].format(texts=texts), user_id),
            {"names": names},
        )
    finally:
        con.execute(f"DROP TABLE {texts}")


def _read_lossy(con, index: int, path: str, stage: str) -> str:
    """A TEMP table of (file_idx, content, lossy): the object decoded, invalid UTF-8 replaced."""
    texts = f"{stage}__texts"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {texts} (file_idx INTEGER, content VARCHAR, lossy BOOLEAN)")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text, lossy = data.decode("utf-8"), False
    except UnicodeDecodeError:
        text, lossy = data.decode("utf-8", errors="replace"), True
    con.execute(f"INSERT INTO {texts} VALUES (?, ?, ?)", [index, text, lossy])
    return texts
