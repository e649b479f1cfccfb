"""Small access-log objects parsed as a few large files, each record still naming its object and line.

Why: S3 delivers a busy bucket's logs as hundreds of small objects a day (~290 of ~100 KB in the demo).
DuckDB parses a file's lines in vectors of at most one file, so a 130-line object fills 6 % of a
2,048-row vector and the parse pays its per-vector cost ~16 times over: measured on 1,438 demo objects
(186 k lines), 10.3 s as separate files against 2.0 s for the same lines in one file. So before a parse,
objects under ``SMALL_OBJECT_BYTES`` are concatenated into bundles of up to ``BUNDLE_BYTES`` (each
object ending with a newline, so no line runs into the next object), the parser
(``bucketlens.formats.access_log.stage_access_log_records``, unchanged) reads the bundles, and a bundle's
records and bad lines are given back their object and line number by an equality join on the bundle's
line, against a map of every bundled line (its object, and the bundle lines before that object). Every
line is parsed on its own, so the records are exactly those of parsing each
object alone (tested: ``tests/assets/test_log_bundles.py``). An object that is not valid UTF-8 is
parsed alone: the parser's replacement-character quarantine is decided per file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bucketlens.formats.access_log_reader import SCAN_BYTES
from bucketlens.formats.errors import SourceFormatError

SMALL_OBJECT_BYTES = 1 << 20  # an object this large fills its own vectors
# Below the reader's SCAN_BYTES, so bundles are read whole, several to a branch, on every thread (a
# 3.5 M-line backfill: 15 MB bundles 10.4 s, 64 MB bundles scanned four to a statement 11.6 s).
BUNDLE_BYTES = SCAN_BYTES - (1 << 20)
MAP = "stage_access_log_bundle_map"
# A name no object key can have (S3 keys never contain NUL).
BUNDLE_NAME = "\x00bundle-{}"


@dataclass
class Bundles:
    """What to hand the parser, and where each bundled object's lines start."""

    files: list[tuple[str, str]] = field(default_factory=list)  # (display name, local path)
    bundle: list[str] = field(default_factory=list)  # per bundled object: its bundle's name,
    key: list[str] = field(default_factory=list)  # the object's key,
    offset: list[int] = field(default_factory=list)  # the bundle lines before it,
    lines: list[int] = field(default_factory=list)  # and its own lines


def bundle_objects(files: list[tuple[str, str]], directory: Path) -> Bundles:
    """Concatenate the small objects of ``files`` (key, local path) into bundles under ``directory``;
    large ones, and any that is not valid UTF-8, are passed on as they are."""
    out = Bundles()
    handle, name, size, lines = None, "", 0, 0
    try:
        for key, path in files:
            try:
                data = Path(path).read_bytes() if os.path.getsize(path) < SMALL_OBJECT_BYTES else None
            except FileNotFoundError as exc:
                raise SourceFormatError(key, f"log object not found at {path}") from exc
            if data == b"":  # no line: its ledger row says so, as a parse of the empty object would
                continue
            if data is None or not _utf8(data):
                out.files.append((key, path))
                continue
            if handle is None or size + len(data) > BUNDLE_BYTES:
                if handle is not None:
                    handle.close()
                name = BUNDLE_NAME.format(len(out.files) + 1)
                bundle_path = directory / f"bundle-{len(out.files) + 1}.log"  # the name's number: unique
                handle, size, lines = bundle_path.open("wb"), 0, 0
                out.files.append((name, str(bundle_path)))
            if data and not data.endswith(b"\n"):
                data += b"\n"
            handle.write(data)
            out.bundle.append(name)
            out.key.append(key)
            out.offset.append(lines)
            out.lines.append(data.count(b"\n"))
            size += len(data)
            lines += out.lines[-1]
    finally:
        if handle is not None:
            handle.close()
    return out


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def create_bundle_map(con, bundles: Bundles) -> None:
    """TEMP table MAP (bundle, line, key, line_offset): one row per bundled line, for :func:`unbundled`."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {MAP} AS "
        "SELECT bundle, unnest(range(line_offset + 1, line_offset + lines + 1)) AS line, key, line_offset "
        "FROM (SELECT unnest(?::VARCHAR[]) AS bundle, unnest(?::VARCHAR[]) AS key, "
        "unnest(?::BIGINT[]) AS line_offset, unnest(?::BIGINT[]) AS lines)",
        [bundles.bundle, bundles.key, bundles.offset, bundles.lines],
    )


def unbundled(table: str, file_column: str, line_column: str) -> str:
    """``table``'s rows with a bundle's file and line given back as the object's own (a SELECT).

    An equality join on (bundle, line), not an ASOF join on where each object starts: an ASOF join
    sorts everything it carries, and a parsed row carries 30 columns (the demo month's 1.38 M records:
    8.0 s to write with the ASOF join, 4.3 s with this one). A bundle line the map does not hold cannot
    happen (the bundle's lines are counted as it is written); if it did, the statement fails rather than
    write a bundle's name into the warehouse."""
    f, n = file_column, line_column
    return (
        f"SELECT t.* REPLACE ("
        f"CASE WHEN m.key IS NOT NULL THEN m.key WHEN starts_with(t.{f}, chr(0)) "
        f"THEN error('access-log bundle line ' || t.{n} || ' is in no bundled object') ELSE t.{f} END AS {f}, "
        f"t.{n} - coalesce(m.line_offset, 0) AS {n}) "
        f"FROM {table} t LEFT JOIN {MAP} m ON t.{f} = m.bundle AND t.{n} = m.line"
    )
