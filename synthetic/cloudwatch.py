"""CloudWatch S3 metrics as JSON Lines (``cloudwatch/<YYYY-MM-DD>.jsonl``), one series a line, shaped
like a GetMetricData query plus its result.

Storage metrics (daily, Average) come from the day's storage totals, including AWS's per-object
archive overheads (8 KB billed as Standard + 32 KB at the archive rate per GLACIER / DEEP_ARCHIVE
object). Request metrics (hourly, FilterId ``EntireBucket``) are aggregated in DuckDB from the very
requests written to the access logs, so the two sources reconcile hour by hour; lifecycle actions are
not client requests and are left out, as AWS does.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from synthetic.layout import DAY_SECONDS, SOURCE_BUCKET, day_of, epoch
from synthetic.storage import DayStorage

KB = 1024
STORAGE_TYPES = {
    "STANDARD": "StandardStorage",
    "INTELLIGENT_TIERING": "IntelligentTieringFAStorage",
    "STANDARD_IA": "StandardIAStorage",
    "GLACIER_IR": "GlacierInstantRetrievalStorage",
    "GLACIER": "GlacierStorage",
    "DEEP_ARCHIVE": "DeepArchiveStorage",
}
OVERHEAD_TYPES = {
    "GLACIER": ("GlacierS3ObjectOverhead", "GlacierObjectOverhead"),
    "DEEP_ARCHIVE": ("DeepArchiveS3ObjectOverhead", "DeepArchiveObjectOverhead"),
}
S3_OVERHEAD_BYTES = 8 * KB
ARCHIVE_OVERHEAD_BYTES = 32 * KB
REQUEST_METRICS = [
    ("AllRequests", "Sum", "Count", "count(*)"),
    ("GetRequests", "Sum", "Count", "count(*) FILTER (op = 'REST.GET.OBJECT')"),
    ("PutRequests", "Sum", "Count", "count(*) FILTER (op = 'REST.PUT.OBJECT')"),
    (
        "DeleteRequests",
        "Sum",
        "Count",
        "count(*) FILTER (op IN ('REST.DELETE.OBJECT', 'BATCH.DELETE.OBJECT'))",
    ),
    ("HeadRequests", "Sum", "Count", "count(*) FILTER (op = 'REST.HEAD.OBJECT')"),
    ("ListRequests", "Sum", "Count", "count(*) FILTER (op = 'REST.GET.BUCKET')"),
    (
        "BytesDownloaded",
        "Sum",
        "Bytes",
        "coalesce(sum(bytes_sent) FILTER (op = 'REST.GET.OBJECT' AND bytes_sent > 0), 0)",
    ),
    ("BytesUploaded", "Sum", "Bytes", "coalesce(sum(object_size) FILTER (op = 'REST.PUT.OBJECT'), 0)"),
    ("4xxErrors", "Sum", "Count", "count(*) FILTER (status BETWEEN 400 AND 499)"),
    ("5xxErrors", "Sum", "Count", "count(*) FILTER (status >= 500)"),
    ("FirstByteLatency", "Average", "Milliseconds", "coalesce(avg(turn_ms) FILTER (turn_ms >= 0), 0)"),
    ("TotalRequestLatency", "Average", "Milliseconds", "coalesce(avg(total_ms) FILTER (total_ms >= 0), 0)"),
]


def storage_series(storage: DayStorage) -> list[dict]:
    """BucketSizeBytes per storage type (plus archive overheads) and NumberOfObjects for one day."""
    stamp = f"{storage.day.isoformat()}T00:00:00Z"
    out = []
    for cls, stype in STORAGE_TYPES.items():
        out.append(
            _series(
                "BucketSizeBytes",
                "StorageType",
                stype,
                86400,
                "Average",
                "Bytes",
                [stamp],
                [float(storage.bytes_by_class.get(cls, 0))],
            )
        )
    for cls, (s3_type, archive_type) in OVERHEAD_TYPES.items():
        n = storage.objects_by_class.get(cls, 0)
        out.append(
            _series(
                "BucketSizeBytes",
                "StorageType",
                s3_type,
                86400,
                "Average",
                "Bytes",
                [stamp],
                [float(n * S3_OVERHEAD_BYTES)],
            )
        )
        out.append(
            _series(
                "BucketSizeBytes",
                "StorageType",
                archive_type,
                86400,
                "Average",
                "Bytes",
                [stamp],
                [float(n * ARCHIVE_OVERHEAD_BYTES)],
            )
        )
    out.append(
        _series(
            "NumberOfObjects",
            "StorageType",
            "AllStorageTypes",
            86400,
            "Average",
            "Count",
            [stamp],
            [float(storage.versions)],
        )
    )
    return out


_AGGREGATES = ", ".join(f"{expr} AS m{i}" for i, (_, _, _, expr) in enumerate(REQUEST_METRICS))


def request_series(con: duckdb.DuckDBPyConnection, day: date) -> list[dict]:
    """Hourly request metrics of ``day`` from the ``requests_arrow`` view (24 points each)."""
    lo = epoch(day) * 1000
    rows = con.sql(
        f"SELECT (ts_ms - $lo) // 3600000 AS hour, {_AGGREGATES} FROM requests_arrow "
        "WHERE ts_ms >= $lo AND ts_ms < $hi AND requester <> 'AmazonS3' GROUP BY hour",
        params={"lo": lo, "hi": lo + DAY_SECONDS * 1000},
    ).fetchall()
    return _hourly_series(day, {int(r[0]): r[1:] for r in rows})


def request_series_by_day(con: duckdb.DuckDBPyConnection) -> dict[date, list[dict]]:
    """``request_series`` of every day in ``requests_arrow``, in one grouped query rather than a scan
    per day (the same rows fall in each day-and-hour group, so the same figures come out)."""
    rows = con.sql(
        f"SELECT ts_ms // 86400000 AS d, ts_ms % 86400000 // 3600000 AS hour, {_AGGREGATES} "
        "FROM requests_arrow WHERE requester <> 'AmazonS3' GROUP BY d, hour"
    ).fetchall()
    by_day: dict[int, dict[int, tuple]] = {}
    for r in rows:
        by_day.setdefault(int(r[0]), {})[int(r[1])] = r[2:]
    return {day_of(d * DAY_SECONDS): _hourly_series(day_of(d * DAY_SECONDS), h) for d, h in by_day.items()}


def _hourly_series(day: date, by_hour: dict[int, tuple]) -> list[dict]:
    stamps = [f"{day.isoformat()}T{h:02d}:00:00Z" for h in range(24)]
    out = []
    for i, (name, stat, unit, _) in enumerate(REQUEST_METRICS):
        values = [float(by_hour[h][i]) if h in by_hour else 0.0 for h in range(24)]
        out.append(_series(name, "FilterId", "EntireBucket", 3600, stat, unit, stamps, values))
    return out


def _series(metric, dim_name, dim_value, period, stat, unit, stamps, values) -> dict:
    return {
        "Namespace": "AWS/S3",
        "MetricName": metric,
        "Dimensions": [
            {"Name": "BucketName", "Value": SOURCE_BUCKET},
            {"Name": dim_name, "Value": dim_value},
        ],
        "Period": period,
        "Stat": stat,
        "Unit": unit,
        "Timestamps": stamps,
        "Values": values,
    }


def write_day(
    out_dir: Path,
    storage: DayStorage,
    con: duckdb.DuckDBPyConnection,
    requests: list[dict] | None = None,
    extra: list[dict] = (),
) -> Path:
    """Write ``cloudwatch/<day>.jsonl`` with the day's storage and request series (``requests``: the
    day's ``request_series`` when already computed, e.g. by ``request_series_by_day``; ``extra``: more
    series, e.g. the ``AWS/CloudFront`` ones of ``synthetic.cloudfront_output``)."""
    path = out_dir / "cloudwatch" / f"{storage.day.isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    if requests is None:
        requests = request_series(con, storage.day)
    series = storage_series(storage) + requests + list(extra)
    path.write_text("".join(json.dumps(s, separators=(", ", ": ")) + "\n" for s in series))
    return path
