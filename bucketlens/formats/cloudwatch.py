"""CloudWatch S3 metrics (GetMetricData or its JSON Lines twin) staged into DuckDB.

CloudWatch is the service-level cross-check: AWS's own daily bucket size per storage type and, where a
metrics configuration exists, hourly request counts, bytes and latencies per filter. It cannot say who
did what (no per-key detail), but it tells when inventory or access logs disagree with AWS.

Two ways in, one shape: the live API (``cloudwatch_api.fetch_metric_series``: ListMetrics, then
GetMetricData in batches of ≤ 500 queries, following ``NextToken``) and ``cloudwatch/<YYYY-MM-DD>.jsonl``
files under the source root, one series a line, shaped like a GetMetricData query joined with its result.
Both become the same series and go through the same SQL, which unnests the parallel
``Timestamps``/``Values`` arrays and keeps only points on the partition's day (UTC).

``AWS/CloudFront`` series (Requests, BytesDownloaded, the 4xx/5xx/total error rates, CacheHitRate;
dimensions ``DistributionId`` and ``Region=Global``) load into the same table with ``bucket`` NULL,
``dimension_name`` 'DistributionId' and the distribution in ``dimension_value`` (the constant Region
dimension is dropped). The live API path still asks for ``AWS/S3`` only.

A malformed JSONL line is an error naming file and line, not a quarantine: the files are small,
machine-written, and a broken one means the whole day's metrics are suspect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from bucketlens.duckdb_options import scoped_settings
from bucketlens.formats.cloudwatch_api import iso_timestamp
from bucketlens.formats.errors import SourceFormatError

COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "TIMESTAMP"),
    ("bucket", "VARCHAR"),
    ("metric_name", "VARCHAR"),
    ("dimension_name", "VARCHAR"),
    ("dimension_value", "VARCHAR"),
    ("stat", "VARCHAR"),
    ("value", "DOUBLE"),
    ("period_seconds", "INTEGER"),
    ("unit", "VARCHAR"),
    ("usage_date", "DATE"),
)
_COLUMN_LIST = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
TABLE_DDL = f"CREATE TABLE IF NOT EXISTS raw.cloudwatch_metrics (\n    {_COLUMN_LIST}\n)"
STAGE_DDL = "CREATE TEMP TABLE IF NOT EXISTS {stage} (\n    " + _COLUMN_LIST + "\n)"

JSONL_READ = (
    "read_json(?, format = 'newline_delimited', records = true, columns = {"
    "'Namespace': 'VARCHAR', 'MetricName': 'VARCHAR', "
    "'Dimensions': 'STRUCT(Name VARCHAR, Value VARCHAR)[]', 'Period': 'INTEGER', 'Stat': 'VARCHAR', "
    "'Unit': 'VARCHAR', 'Timestamps': 'VARCHAR[]', 'Values': 'DOUBLE[]'})"
)
SERIES_PROBLEMS = """
SELECT count(*) FILTER (WHERE MetricName IS NULL OR Stat IS NULL OR Period IS NULL),
       count(*) FILTER (WHERE len(coalesce(Timestamps, [])) <> len(coalesce("Values", []))),
       count(*) FILTER (WHERE len(list_filter(coalesce(Dimensions, []), lambda d: d.Name IN ('BucketName', 'DistributionId'))) = 0)
FROM {source}
"""
# One row per point on ``day``; a point repeated across files keeps the value of the last file.
SERIES_POINTS = """
CREATE OR REPLACE TEMP TABLE _bucketlens_cw_points AS
WITH series AS (
    SELECT ? AS file_index, *, list_filter(Dimensions, lambda d: d.Name NOT IN ('BucketName', 'Region')) AS other
    FROM {source}
    WHERE coalesce(Namespace, 'AWS/S3') IN ('AWS/S3', 'AWS/CloudFront')
),
points AS (
    SELECT file_index, MetricName, Stat, Period, Unit,
           list_filter(Dimensions, lambda d: d.Name = 'BucketName')[1].Value AS bucket,
           other[1].Name AS dimension_name, other[1].Value AS dimension_value,
           unnest(Timestamps) AS ts_text, unnest("Values") AS value
    FROM series
)
SELECT file_index, timezone('UTC', CAST(ts_text AS TIMESTAMPTZ)) AS ts, bucket, MetricName AS metric_name,
       dimension_name, dimension_value, Stat AS stat, value, Period AS period_seconds, Unit AS unit
FROM points
"""
INSERT_POINTS = """
INSERT INTO {stage}
SELECT ts, bucket, metric_name, dimension_name, dimension_value, stat,
       arg_max(value, file_index), period_seconds, arg_max(unit, file_index), ?::DATE
FROM {points}
WHERE ts >= ? AND ts < ?
GROUP BY ts, bucket, metric_name, dimension_name, dimension_value, stat, period_seconds
"""
LOAD_SUMMARY = """
SELECT count(*), count(DISTINCT (bucket, metric_name, dimension_name, dimension_value, stat, period_seconds))
FROM {stage} WHERE usage_date = ?
"""
LOAD_BY_METRIC = "SELECT metric_name, count(*) FROM {stage} WHERE usage_date = ? GROUP BY ALL ORDER BY 1"
ALL_POINTS = "_bucketlens_cw_all_points"


@dataclass
class CloudWatchLoad:
    usage_date: date
    files: int = 0
    series: int = 0
    points: int = 0
    points_outside_day: int = 0
    by_metric: dict[str, int] = field(default_factory=dict)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time())
    return start, start + timedelta(days=1)


def _locate_bad_line(key: str, path: str) -> tuple[int, str]:
    """Error path only: find the first line that is not a well-formed series (Python, small files)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                return number, f"not valid JSON: {exc}"
            problem = _series_problem(doc)
            if problem:
                return number, problem
    return 0, ""


def _series_problem(doc: Any) -> str:
    if not isinstance(doc, dict):
        return "a series must be a JSON object"
    for name in ("MetricName", "Stat", "Period"):
        if doc.get(name) is None:
            return f"series has no {name}"
    if len(doc.get("Timestamps") or []) != len(doc.get("Values") or []):
        return "Timestamps and Values differ in length"
    names = {d.get("Name") for d in doc.get("Dimensions") or [] if isinstance(d, dict)}
    if not names & {"BucketName", "DistributionId"}:
        return "series has no BucketName dimension (nor DistributionId, for AWS/CloudFront)"
    return ""


def _collect_points(con, source: str, params: list, file_index: int, name: str, path: str | None) -> None:
    """Validate ``source`` (series rows) and append its points to the all-points temp table."""
    try:
        problems = con.execute(SERIES_PROBLEMS.format(source=source), params).fetchall()[0]
        if any(problems):
            raise ValueError("malformed series")
        con.execute(SERIES_POINTS.format(source=source), [file_index, *params])
    except (duckdb.Error, ValueError) as exc:
        if path is None:
            raise SourceFormatError(name, f"malformed series: {exc}") from exc
        line, reason = _locate_bad_line(name, path)
        raise SourceFormatError(name, reason or f"cannot read JSON lines: {exc}", line=line or None) from exc
    con.execute(f"INSERT INTO {ALL_POINTS} SELECT * FROM _bucketlens_cw_points")


def _stage(con, sources: list[tuple[str, list, str, str | None]], day: date, stage: str) -> CloudWatchLoad:
    con.execute(STAGE_DDL.format(stage=stage))
    start, end = _day_bounds(day)
    with scoped_settings(con, {"TimeZone": "UTC"}):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {ALL_POINTS} (file_index INTEGER, ts TIMESTAMP, bucket VARCHAR, "
            "metric_name VARCHAR, dimension_name VARCHAR, dimension_value VARCHAR, stat VARCHAR, "
            "value DOUBLE, period_seconds INTEGER, unit VARCHAR)"
        )
        try:
            for index, (source, params, name, path) in enumerate(sources):
                _collect_points(con, source, params, index, name, path)
            con.execute(f"DELETE FROM {stage} WHERE usage_date = ?", [day])
            con.execute(INSERT_POINTS.format(stage=stage, points=ALL_POINTS), [day, start, end])
            outside = con.execute(
                f"SELECT count(*) FROM {ALL_POINTS} WHERE NOT (ts >= ? AND ts < ?)", [start, end]
            ).fetchall()[0][0]
        finally:
            con.execute(f"DROP TABLE IF EXISTS {ALL_POINTS}")
            con.execute("DROP TABLE IF EXISTS _bucketlens_cw_points")
    points, series = con.execute(LOAD_SUMMARY.format(stage=stage), [day]).fetchall()[0]
    by_metric = dict(con.execute(LOAD_BY_METRIC.format(stage=stage), [day]).fetchall())
    return CloudWatchLoad(day, len(sources), series, points, outside, by_metric)


def stage_cloudwatch_jsonl(
    con: duckdb.DuckDBPyConnection,
    files: list[tuple[str, str]],
    day: date,
    stage: str = "stage_cloudwatch_metrics",
) -> CloudWatchLoad:
    """Stage the points on ``day`` from ``(key, local path)`` JSONL files (later files win duplicates).

    Pass the day's file and, if present, its neighbours: a series file may carry points of other days,
    which are dropped here (and counted in ``points_outside_day``).
    """
    return _stage(con, [(JSONL_READ, [path], key, path) for key, path in files], day, stage)


# Several days' files in one read: each file's rows tagged with the day it stands for ($days[file]).
JSONL_READ_DAYS = (
    "(SELECT * EXCLUDE (filename), list_position($paths, filename) AS _file FROM read_json($paths, "
    "format = 'newline_delimited', records = true, filename = true, columns = {"
    "'Namespace': 'VARCHAR', 'MetricName': 'VARCHAR', "
    "'Dimensions': 'STRUCT(Name VARCHAR, Value VARCHAR)[]', 'Period': 'INTEGER', 'Stat': 'VARCHAR', "
    "'Unit': 'VARCHAR', 'Timestamps': 'VARCHAR[]', 'Values': 'DOUBLE[]'}))"
)
SERIES_PROBLEMS_BY_FILE = """
SELECT _file FROM {source}
WHERE MetricName IS NULL OR Stat IS NULL OR Period IS NULL
   OR len(coalesce(Timestamps, [])) <> len(coalesce("Values", []))
   OR len(list_filter(coalesce(Dimensions, []), lambda d: d.Name IN ('BucketName', 'DistributionId'))) = 0
GROUP BY ALL ORDER BY 1
"""
# Each file's points on its own day, the day's file being the only one a day reads (as
# ``stage_cloudwatch_jsonl`` of one day's file), then what every file held outside its day.
DAYS_POINTS = """
CREATE OR REPLACE TEMP TABLE _bucketlens_cw_points AS
WITH series AS (
    SELECT _file, *, list_filter(Dimensions, lambda d: d.Name NOT IN ('BucketName', 'Region')) AS other
    FROM {source}
    WHERE coalesce(Namespace, 'AWS/S3') IN ('AWS/S3', 'AWS/CloudFront')
),
points AS (
    SELECT _file, MetricName, Stat, Period, Unit,
           list_filter(Dimensions, lambda d: d.Name = 'BucketName')[1].Value AS bucket,
           other[1].Name AS dimension_name, other[1].Value AS dimension_value,
           unnest(Timestamps) AS ts_text, unnest("Values") AS value
    FROM series
)
SELECT ($days::DATE[])[_file] AS usage_date, timezone('UTC', CAST(ts_text AS TIMESTAMPTZ)) AS ts, bucket,
       MetricName AS metric_name, dimension_name, dimension_value, Stat AS stat, value,
       Period AS period_seconds, Unit AS unit
FROM points
"""
INSERT_DAYS_POINTS = """
INSERT INTO {stage}
SELECT ts, bucket, metric_name, dimension_name, dimension_value, stat,
       any_value(value), period_seconds, any_value(unit), usage_date
FROM _bucketlens_cw_points
WHERE ts >= usage_date AND ts < usage_date + INTERVAL 1 DAY
GROUP BY usage_date, ts, bucket, metric_name, dimension_name, dimension_value, stat, period_seconds
"""
DAYS_SUMMARY = """
SELECT d.usage_date,
       (SELECT count(*) FROM {stage} s WHERE s.usage_date = d.usage_date),
       (SELECT count(DISTINCT (bucket, metric_name, dimension_name, dimension_value, stat, period_seconds))
        FROM {stage} s WHERE s.usage_date = d.usage_date),
       (SELECT count(*) FROM _bucketlens_cw_points p
        WHERE p.usage_date = d.usage_date AND NOT (ts >= p.usage_date AND ts < p.usage_date + INTERVAL 1 DAY))
FROM (SELECT unnest($days::DATE[]) AS usage_date) d
"""


def stage_cloudwatch_jsonl_days(
    con: duckdb.DuckDBPyConnection,
    files: dict[date, tuple[str, str]],
    stage: str = "stage_cloudwatch_metrics",
) -> dict[date, CloudWatchLoad]:
    """Stage every day's points from that day's ``(key, local path)`` file, all files in one read.

    The rows are those of :func:`stage_cloudwatch_jsonl` run for each day on its own file (a file's
    points of other days are dropped and counted), so a backfill of many days is a handful of
    statements instead of a dozen per day. A malformed file is named with its first bad line.
    """
    con.execute(STAGE_DDL.format(stage=stage))
    days = sorted(files)
    if not days:
        return {}
    params = {"paths": [files[d][1] for d in days], "days": days}
    source = JSONL_READ_DAYS
    with scoped_settings(con, {"TimeZone": "UTC"}):
        try:
            bad = con.execute(
                SERIES_PROBLEMS_BY_FILE.format(source=source), {"paths": params["paths"]}
            ).fetchall()
            if not bad:
                con.execute(DAYS_POINTS.format(source=source), params)
        except duckdb.Error as exc:
            _raise_first_bad_file(con, [(d, *files[d]) for d in days], exc)
        if bad:
            _raise_first_bad_file(con, [(days[i - 1], *files[days[i - 1]]) for (i,) in bad], None)
        try:
            con.execute(f"DELETE FROM {stage} WHERE list_contains(?, usage_date)", [days])
            con.execute(INSERT_DAYS_POINTS.format(stage=stage))
            summary = con.execute(DAYS_SUMMARY.format(stage=stage), {"days": days}).fetchall()
        finally:
            con.execute("DROP TABLE IF EXISTS _bucketlens_cw_points")
    by_metric: dict[date, dict[str, int]] = {d: {} for d in days}
    for day, metric, count in con.execute(
        f"SELECT usage_date, metric_name, count(*) FROM {stage} WHERE list_contains(?, usage_date) "
        "GROUP BY ALL ORDER BY 1, 2",
        [days],
    ).fetchall():
        by_metric[day][metric] = count
    return {
        day: CloudWatchLoad(day, 1, series, points, outside, by_metric[day])
        for day, points, series, outside in summary
    }


def _raise_first_bad_file(con, files: list[tuple[date, str, str]], exc: duckdb.Error | None) -> None:
    """Error path only: stage the files one at a time, as a single day does, so that the error names
    the file (and line) that failed."""
    scratch = "_bucketlens_cw_scratch"
    try:
        for day, key, path in files:
            stage_cloudwatch_jsonl(con, [(key, path)], day, stage=scratch)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {scratch}")
    raise SourceFormatError(f"{len(files)} CloudWatch files", f"cannot read JSON lines: {exc}") from exc


SERIES_SCHEMA = pa.schema(
    [
        ("Namespace", pa.string()),
        ("MetricName", pa.string()),
        ("Dimensions", pa.list_(pa.struct([("Name", pa.string()), ("Value", pa.string())]))),
        ("Period", pa.int32()),
        ("Stat", pa.string()),
        ("Unit", pa.string()),
        ("Timestamps", pa.list_(pa.string())),
        ("Values", pa.list_(pa.float64())),
    ]
)


def stage_cloudwatch_series(
    con: duckdb.DuckDBPyConnection,
    series: list[dict],
    day: date,
    stage: str = "stage_cloudwatch_metrics",
    name: str = "GetMetricData",
) -> CloudWatchLoad:
    """Stage series dicts (as from :func:`fetch_metric_series` or parsed JSONL lines)."""
    for number, doc in enumerate(series, start=1):
        problem = _series_problem(doc)
        if problem:
            raise SourceFormatError(name, problem, line=number)
    rows = [{column: doc.get(column) for column in SERIES_SCHEMA.names} for doc in series]
    for row in rows:
        row["Timestamps"] = [iso_timestamp(t) for t in row["Timestamps"] or []]
    table = pa.Table.from_pylist(rows, schema=SERIES_SCHEMA)
    view = "_bucketlens_cw_series"
    con.register(view, table)
    try:
        return _stage(con, [(view, [], name, None)], day, stage)
    finally:
        con.unregister(view)
