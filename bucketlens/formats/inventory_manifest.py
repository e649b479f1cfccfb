"""S3 Inventory manifests: where a day's report is, what it contains, and whether it is intact.

A report is only trustworthy when all of it is read: ``manifest.json`` is checked against
``manifest.checksum`` (the hex MD5 of its bytes), every data file against the manifest's size and MD5,
and ``fileSchema`` gives the column order of CSV files, which have no header. Staging the verified files
is ``bucketlens.formats.inventory``'s job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bucketlens.cpus import usable_cpus
from bucketlens.formats.errors import SourceFormatError

REQUIRED_FIELDS = ("bucket", "key")
FILE_FORMATS = ("CSV", "ORC", "Parquet")
CHUNK_SIZE = 1 << 20

MANIFEST_KEY_RE = re.compile(
    r"^(?P<prefix>(?:.*/)?inventory/(?P<bucket>[^/]+)/(?P<config>[^/]+)/)"
    r"(?P<folder>(?P<day>\d{4}-\d{2}-\d{2})T(?P<hour>\d{2})-(?P<minute>\d{2})Z)/manifest\.json$"
)


@dataclass
class ManifestFile:
    key: str
    size: int
    md5: str


@dataclass
class InventoryManifest:
    key: str
    source_bucket: str
    destination_bucket: str
    version: str
    creation_time: datetime
    file_format: str
    columns: list[str]
    files: list[ManifestFile]


def snake_case(name: str) -> str:
    """``LastModifiedDate`` -> ``last_modified_date``, ``ETag`` -> ``e_tag``."""
    name = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", name.strip())
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    return name.lower()


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == "<":
            depth += 1
        elif char == ">":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def schema_columns(file_format: str, schema: str, name: str) -> list[str]:
    """Column names (snake_case) from a manifest's ``fileSchema``, in file order."""
    schema = schema.strip()
    if file_format == "CSV":
        columns = [snake_case(part) for part in schema.split(",") if part.strip()]
    elif file_format == "Parquet":
        body = re.search(r"\{(.*)\}", schema, re.S)
        if not body:
            raise SourceFormatError(name, f"Parquet fileSchema is not a 'message … {{ … }}': {schema[:80]!r}")
        columns = re.findall(r"(?:required|optional|repeated)\s+\w+\s+(\w+)", body.group(1))
    else:
        body = re.fullmatch(r"struct<(.*)>", schema, re.S)
        if not body:
            raise SourceFormatError(name, f"ORC fileSchema is not a 'struct<…>': {schema[:80]!r}")
        columns = [part.split(":", 1)[0].strip() for part in _split_top_level(body.group(1))]
    if not columns:
        raise SourceFormatError(name, f"fileSchema lists no columns: {schema[:80]!r}")
    odd = [c for c in columns if not re.fullmatch(r"[a-z][a-z0-9_]*", c)]
    if odd:
        raise SourceFormatError(name, f"fileSchema has unexpected column names {odd}")
    return columns


def parse_manifest(raw: bytes, name: str) -> InventoryManifest:
    """Parse an inventory ``manifest.json``; errors name the manifest and the offending field."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(name, f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SourceFormatError(name, "manifest is not a JSON object")
    missing = [
        f
        for f in (
            "sourceBucket",
            "destinationBucket",
            "creationTimestamp",
            "fileFormat",
            "fileSchema",
            "files",
        )
        if f not in doc
    ]
    if missing:
        raise SourceFormatError(name, f"manifest lacks {', '.join(missing)}")
    file_format = doc["fileFormat"]
    if file_format not in FILE_FORMATS:
        raise SourceFormatError(name, f"unknown fileFormat {file_format!r}; expected one of {FILE_FORMATS}")
    try:
        created = datetime.fromtimestamp(int(doc["creationTimestamp"]) / 1000, tz=UTC)
    except (TypeError, ValueError) as exc:
        raise SourceFormatError(
            name, f"creationTimestamp {doc['creationTimestamp']!r} is not epoch ms"
        ) from exc
    if not isinstance(doc["files"], list):
        raise SourceFormatError(name, "manifest 'files' is not a list")
    files = []
    for index, entry in enumerate(doc["files"]):
        try:
            files.append(
                ManifestFile(str(entry["key"]), int(entry["size"]), str(entry["MD5checksum"]).lower())
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise SourceFormatError(
                name, f"files[{index}] needs key, size and MD5checksum: {entry!r}"
            ) from exc
    columns = schema_columns(file_format, str(doc["fileSchema"]), name)
    absent = [f for f in REQUIRED_FIELDS if f not in columns]
    if absent:
        raise SourceFormatError(name, f"fileSchema has no {', '.join(absent)} column: {columns}")
    return InventoryManifest(
        key=name,
        source_bucket=str(doc["sourceBucket"]),
        destination_bucket=str(doc["destinationBucket"]),
        version=str(doc.get("version", "")),
        creation_time=created,
        file_format=file_format,
        columns=columns,
        files=files,
    )


def verify_manifest_checksum(manifest_raw: bytes, checksum_raw: bytes, name: str) -> None:
    """``manifest.checksum`` holds the hex MD5 of the manifest's bytes."""
    expected = checksum_raw.decode("ascii", errors="replace").strip().lower()
    actual = hashlib.md5(manifest_raw).hexdigest()
    if expected != actual:
        raise SourceFormatError(name, f"manifest MD5 is {actual} but manifest.checksum says {expected}")


def verify_data_file(path: str, expected: ManifestFile) -> None:
    """Size first (cheap), then a streaming MD5 of the file against the manifest entry."""
    actual_size = os.path.getsize(path)
    if actual_size != expected.size:
        raise SourceFormatError(
            expected.key, f"size is {actual_size} bytes but the manifest says {expected.size}"
        )
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
    if digest.hexdigest() != expected.md5.lower():
        raise SourceFormatError(
            expected.key, f"MD5 is {digest.hexdigest()} but the manifest says {expected.md5}"
        )


def verify_data_files(files: list[ManifestFile], local: dict[str, str]) -> None:
    """Every data file of a manifest (``local``: key -> path) against its entry, on every core: hashlib
    releases the GIL while it hashes, and a 10 M-object day is ~0.9 GB of Parquet to hash. The first
    failure in the manifest's order is raised, as checking the files one by one would."""
    workers = min(len(files), usable_cpus())
    if workers < 2:
        for f in files:
            verify_data_file(local[f.key], f)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inventory-md5") as pool:
        failures = list(pool.map(_failure, files, [local[f.key] for f in files]))
    for failure in failures:
        if failure is not None:
            raise failure


def _failure(expected: ManifestFile, path: str) -> SourceFormatError | None:
    try:
        verify_data_file(path, expected)
    except SourceFormatError as exc:
        return exc
    return None


def inventory_manifest_keys(keys: list[str], day: date) -> list[str]:
    """Manifest keys of reports whose folder (scan start) is on ``day``: the latest per config."""
    latest: dict[str, tuple[str, str]] = {}
    for key in keys:
        match = MANIFEST_KEY_RE.match(key)
        if not match or match["day"] != day.isoformat():
            continue
        config = match["prefix"]
        if config not in latest or match["folder"] > latest[config][0]:
            latest[config] = (match["folder"], key)
    return sorted(key for _, key in latest.values())


def checksum_key(manifest_key: str) -> str:
    if not manifest_key.endswith("manifest.json"):
        raise ValueError(f"{manifest_key!r} is not a manifest.json key")
    return manifest_key[: -len("manifest.json")] + "manifest.checksum"
