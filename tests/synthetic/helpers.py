"""Small readers used only by the tests (the product's real readers live in bucketlens.formats)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path

FIELD = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')


def manifest(root: Path, day: str) -> dict:
    return json.loads(
        (root / f"inventory/photos-prod/daily-all-versions/{day}T01-00Z/manifest.json").read_text()
    )


def csv_rows(root: Path, day: str) -> list[list[str]]:
    rows = []
    for f in manifest(root, day)["files"]:
        text = gzip.decompress((root / f["key"]).read_bytes()).decode()
        rows.extend(csv.reader(io.StringIO(text)))
    return rows


def log_lines(root: Path) -> list[tuple[str, str]]:
    """(log object key, line) for every line of every access-log object."""
    out = []
    for path in sorted((root / "access-logs").rglob("*")):
        if path.is_file():
            key = path.relative_to(root).as_posix()
            out.extend((key, line) for line in path.read_text().splitlines())
    return out


def fields(line: str) -> list[str]:
    return FIELD.findall(line)


def labels(root: Path) -> list[dict]:
    return [json.loads(x) for x in (root / "labels.jsonl").read_text().splitlines()]
