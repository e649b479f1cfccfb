"""Which files of ``cur/`` are a billing period's bill: the export discovery half of the cost readers.

AWS rewrites a billing period's export at least daily and may restate closed months, so the *current*
export of a period is one consistent set of files — the manifest's ``dataFiles``, or else the newest
execution folder — that replaces everything staged before for that period. This module finds that set;
``bucketlens.formats.cur`` stages it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bucketlens.formats.errors import SourceFormatError

ROOT_PREFIX = "cur/"
DATA_KEY_RE = re.compile(
    r"^cur/(?P<export>[^/]+)/data/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/"
    r"(?:(?P<execution>[^/]+)/)?(?P<name>[^/]+\.(?:parquet|csv\.gz|csv))$"
)
MANIFEST_KEY_RE = re.compile(
    r"^cur/(?P<export>[^/]+)/metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/(?:[^/]+/)*[^/]*Manifest\.json$"
)


@dataclass
class CostExport:
    """The current export of one billing period: the files that together are the bill."""

    export_name: str
    billing_period: str
    execution_id: str | None
    manifest_key: str | None
    export_time: datetime | None
    data_keys: list[str]


def cost_manifest_keys(keys: list[str], billing_period: str) -> list[str]:
    """Manifest keys the caller should fetch before :func:`find_cost_exports`."""
    return sorted(k for k in keys if (m := MANIFEST_KEY_RE.match(k)) and m["period"] == billing_period)


def _parse_time(value: object) -> datetime | None:
    if not value:
        return None
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _manifest_export(manifest_key: str, raw: bytes, export: str, period: str, known: set[str]) -> CostExport:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceFormatError(manifest_key, f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("dataFiles"), list):
        raise SourceFormatError(manifest_key, "manifest has no 'dataFiles' list")
    period_doc = doc.get("billingPeriod")
    start = period_doc.get("start") if isinstance(period_doc, dict) else None
    start_time = _parse_time(start)
    if start_time and start_time.strftime("%Y-%m") != period:
        raise SourceFormatError(
            manifest_key, f"billingPeriod.start {start} is not in BILLING_PERIOD={period}"
        )
    marker = f"{export}/data/"
    data_keys = []
    for uri in doc["dataFiles"]:
        text = str(uri)
        rest = _after(text, marker)
        if rest is None or not rest.startswith(f"BILLING_PERIOD={period}/"):
            raise SourceFormatError(
                manifest_key, f"dataFiles entry {text!r} is not under {marker}BILLING_PERIOD={period}/"
            )
        key = ROOT_PREFIX + marker + rest
        if key not in known:
            raise SourceFormatError(
                key, f"named in manifest {manifest_key} but not found under the source root"
            )
        data_keys.append(key)
    if not data_keys:
        raise SourceFormatError(manifest_key, "manifest lists no dataFiles")
    return CostExport(
        export_name=export,
        billing_period=period,
        execution_id=str(doc["executionId"]) if doc.get("executionId") else None,
        manifest_key=manifest_key,
        export_time=_parse_time(doc.get("exportTime") or doc.get("exportCreationTime")),
        data_keys=data_keys,
    )


def _after(uri: str, marker: str) -> str | None:
    """The part of a ``dataFiles`` URI after ``<export>/data/`` (any bucket and prefix before it)."""
    if uri.startswith(marker):
        return uri[len(marker) :]
    at = uri.find("/" + marker)
    return uri[at + 1 + len(marker) :] if at >= 0 else None


def find_cost_exports(
    keys: list[str],
    manifests: dict[str, bytes],
    billing_period: str,
    last_modified: dict[str, datetime] | None = None,
) -> list[CostExport]:
    """The current export of ``billing_period`` for every export name found under ``cur/``.

    With a manifest, its ``dataFiles`` are the export (several manifests: the newest export time
    wins). Without one, the newest execution folder (by ``last_modified`` of its files when given,
    else by name) or the files directly in the period folder. Every manifest key under the period
    (see :func:`cost_manifest_keys`) must be present in ``manifests``.
    """
    known = set(keys)
    data: dict[str, dict[str, list[str]]] = {}
    for key in keys:
        match = DATA_KEY_RE.match(key)
        if match and match["period"] == billing_period:
            data.setdefault(match["export"], {}).setdefault(match["execution"] or "", []).append(key)
    found: dict[str, list[CostExport]] = {}
    for key in cost_manifest_keys(keys, billing_period):
        if key not in manifests:
            raise ValueError(f"manifest {key} was listed but its content was not provided")
        export = MANIFEST_KEY_RE.match(key)["export"]
        found.setdefault(export, []).append(
            _manifest_export(key, manifests[key], export, billing_period, known)
        )
    exports = []
    for name in sorted(set(data) | set(found)):
        if name in found:
            newest = max(
                found[name],
                key=lambda e: (
                    _to_utc_naive(e.export_time) if e.export_time else datetime.min,
                    e.manifest_key,
                ),
            )
            exports.append(newest)
            continue
        folder = _newest_folder(data[name], last_modified or {})
        exports.append(
            CostExport(name, billing_period, folder or None, None, None, sorted(data[name][folder]))
        )
    return exports


def _newest_folder(groups: dict[str, list[str]], last_modified: dict[str, datetime]) -> str:
    """Execution folder ('' = files directly in the period folder) written last, else last by name."""

    def rank(folder: str) -> tuple[datetime, str]:
        stamps = [_to_utc_naive(last_modified[k]) for k in groups[folder] if k in last_modified]
        return (max(stamps) if stamps else datetime.min, folder)

    return max(groups, key=rank)


def _to_utc_naive(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
