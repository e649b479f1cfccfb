"""CloudWatch's live API: which S3 metrics to ask GetMetricData for, and its answers as series.

Why this module exists: talking to the API (ListMetrics, batches of at most ``MAX_QUERIES`` queries,
``NextToken`` pages, results joined back to their queries) is separate from staging the series into
DuckDB, which ``cloudwatch`` does for these series and for the JSON Lines files alike.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

NAMESPACE = "AWS/S3"
MAX_QUERIES = 500  # GetMetricData's limit per request

# Daily storage metrics (Average over 86400 s) and request metrics (hourly; Sum, Average for latency).
STORAGE_METRICS = {"BucketSizeBytes": "Bytes", "NumberOfObjects": "Count"}
REQUEST_METRICS = {
    "AllRequests": "Count", "GetRequests": "Count", "PutRequests": "Count", "DeleteRequests": "Count",
    "HeadRequests": "Count", "PostRequests": "Count", "ListRequests": "Count", "SelectRequests": "Count",
    "SelectBytesScanned": "Bytes", "SelectBytesReturned": "Bytes", "BytesDownloaded": "Bytes",
    "BytesUploaded": "Bytes", "4xxErrors": "Count", "5xxErrors": "Count",
    "FirstByteLatency": "Milliseconds", "TotalRequestLatency": "Milliseconds",
}  # fmt: skip
LATENCY_METRICS = {"FirstByteLatency", "TotalRequestLatency"}
REQUEST_PERIOD = 3600
STORAGE_PERIOD = 86400


def iso_timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metric_query(metric: dict) -> dict | None:
    """The GetMetricData ``MetricStat`` (without Id) for one ListMetrics entry, or None to skip it."""
    name = metric["MetricName"]
    dimensions = {d["Name"] for d in metric.get("Dimensions", [])}
    if "BucketName" not in dimensions:
        return None
    if name in STORAGE_METRICS and "StorageType" in dimensions:
        period, stat = STORAGE_PERIOD, "Average"
    elif "FilterId" in dimensions:
        period, stat = REQUEST_PERIOD, "Average" if name in LATENCY_METRICS else "Sum"
    else:
        return None  # e.g. replication metrics: not part of usage or cost
    return {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": metric["Dimensions"]},
        "Period": period,
        "Stat": stat,
    }


def series_from_results(queries: list[dict], results: list[dict]) -> list[dict]:
    """Join GetMetricData queries and results (possibly several pages, any order) into series dicts.

    Expression queries (no ``MetricStat``) are skipped: derived values are recomputed in SQL.
    """
    points: dict[str, dict[str, float]] = {}
    for result in results:
        bucket = points.setdefault(result["Id"], {})
        for stamp, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
            bucket[iso_timestamp(stamp)] = value
    series = []
    for query in queries:
        stat = query.get("MetricStat")
        if not stat or query["Id"] not in points:
            continue
        metric = stat["Metric"]
        ordered = sorted(points[query["Id"]].items())
        series.append(
            {
                "Namespace": metric.get("Namespace", NAMESPACE),
                "MetricName": metric["MetricName"],
                "Dimensions": [
                    {"Name": d["Name"], "Value": d["Value"]} for d in metric.get("Dimensions", [])
                ],
                "Period": stat["Period"],
                "Stat": stat["Stat"],
                "Unit": stat.get("Unit")
                or STORAGE_METRICS.get(metric["MetricName"])
                or REQUEST_METRICS.get(metric["MetricName"]),
                "Timestamps": [t for t, _ in ordered],
                "Values": [v for _, v in ordered],
            }
        )
    return series


def fetch_metric_series(client: Any, day: date, buckets: list[str] | None = None) -> list[dict]:
    """Every S3 storage and request series of ``day`` from a boto3 CloudWatch client.

    Unit is not sent in the query (it would filter out datapoints published without one); it is
    filled in from the metric's documented unit. Series without a point on the day are omitted.
    """
    metrics = []
    for page in client.get_paginator("list_metrics").paginate(Namespace=NAMESPACE):
        metrics.extend(page.get("Metrics", []))
    wanted = set(buckets) if buckets is not None else None
    queries, seen = [], set()
    for metric in sorted(
        metrics,
        key=lambda m: (m["MetricName"], sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", []))),
    ):
        bucket = next((d["Value"] for d in metric.get("Dimensions", []) if d["Name"] == "BucketName"), None)
        if wanted is not None and bucket not in wanted:
            continue
        query = metric_query(metric)
        identity = json.dumps(query, sort_keys=True)
        if query is None or identity in seen:
            continue
        seen.add(identity)
        queries.append({"Id": f"q{len(queries)}", "MetricStat": query, "ReturnData": True})
    start = datetime.combine(day, time(), tzinfo=UTC)
    series = []
    for offset in range(0, len(queries), MAX_QUERIES):
        batch = queries[offset : offset + MAX_QUERIES]
        results, token = [], None
        while True:
            request = {"MetricDataQueries": batch, "StartTime": start, "EndTime": start + timedelta(days=1)}
            if token:
                request["NextToken"] = token
            response = client.get_metric_data(**request)
            results.extend(response.get("MetricDataResults", []))
            token = response.get("NextToken")
            if not token:
                break
        series.extend(series_from_results(batch, results))
    return series
