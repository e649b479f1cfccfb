"""CloudWatch S3 metrics: JSONL files, GetMetricData results, and the live API path against moto."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bucketlens.formats.cloudwatch import TABLE_DDL, stage_cloudwatch_jsonl, stage_cloudwatch_series
from bucketlens.formats.cloudwatch_api import (
    MAX_QUERIES,
    fetch_metric_series,
    metric_query,
    series_from_results,
)
from bucketlens.formats.errors import SourceFormatError

AWS_EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws"
DAY = date(2026, 9, 1)
BUCKET = "cw-fixture"  # never created in moto's S3: moto would invent AWS/S3 datapoints for it


def series(metric: str, dimension: tuple[str, str], period: int, stat: str, unit: str | None,
           points: list[tuple[str, float]], bucket: str = "photo-backup-prod") -> dict:  # fmt: skip
    return {
        "Namespace": "AWS/S3",
        "MetricName": metric,
        "Dimensions": [
            {"Name": "BucketName", "Value": bucket},
            {"Name": dimension[0], "Value": dimension[1]},
        ],
        "Period": period,
        "Stat": stat,
        "Unit": unit,
        "Timestamps": [t for t, _ in points],
        "Values": [v for _, v in points],
    }


def write_jsonl(path: Path, lines: list[dict | str]) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


STAGED = ("SELECT ts, bucket, metric_name, dimension_name, dimension_value, stat, value, period_seconds, unit, "
          "usage_date FROM stage_cloudwatch_metrics ORDER BY metric_name, dimension_value, ts")  # fmt: skip


def test_jsonl_keeps_points_of_the_day_and_maps_dimensions(tmp_path, con):
    lines = [
        series("BucketSizeBytes", ("StorageType", "StandardStorage"), 86400, "Average", "Bytes",
               [("2026-08-31T00:00:00Z", 1.0e12), ("2026-09-01T00:00:00Z", 1.2e12)]),
        # Dimension order does not matter; the non-bucket dimension is the one reported.
        {**series("NumberOfObjects", ("StorageType", "AllStorageTypes"), 86400, "Average", "Count",
                  [("2026-09-01T00:00:00Z", 409982.0)]),
         "Dimensions": [{"Name": "StorageType", "Value": "AllStorageTypes"},
                        {"Name": "BucketName", "Value": "photo-backup-prod"}]},
        series("AllRequests", ("FilterId", "EntireBucket"), 3600, "Sum", "Count",
               [("2026-09-01T23:00:00Z", 5.0), ("2026-09-02T00:00:00Z", 7.0), ("2026-09-01T00:00:00+00:00", 3.0)]),
        {**series("BytesDownloaded", ("FilterId", "photos"), 60, "Sum", None, [("2026-09-01T12:01:00Z", 2048.0)]),
         "Label": "extra fields are ignored", "StatusCode": "Complete"},
    ]  # fmt: skip
    path = write_jsonl(tmp_path / "2026-09-01.jsonl", lines)
    load = stage_cloudwatch_jsonl(con, [("cloudwatch/2026-09-01.jsonl", path)], DAY)
    assert con.execute(STAGED).fetchall() == [
        (datetime(2026, 9, 1, 0), "photo-backup-prod", "AllRequests", "FilterId", "EntireBucket", "Sum", 3.0, 3600, "Count", DAY),
        (datetime(2026, 9, 1, 23), "photo-backup-prod", "AllRequests", "FilterId", "EntireBucket", "Sum", 5.0, 3600, "Count", DAY),
        (datetime(2026, 9, 1), "photo-backup-prod", "BucketSizeBytes", "StorageType", "StandardStorage", "Average", 1.2e12, 86400, "Bytes", DAY),
        (datetime(2026, 9, 1, 12, 1), "photo-backup-prod", "BytesDownloaded", "FilterId", "photos", "Sum", 2048.0, 60, None, DAY),
        (datetime(2026, 9, 1), "photo-backup-prod", "NumberOfObjects", "StorageType", "AllStorageTypes", "Average", 409982.0, 86400, "Count", DAY),
    ]  # fmt: skip
    assert (load.files, load.series, load.points, load.points_outside_day) == (1, 4, 5, 2)
    assert load.by_metric == {
        "AllRequests": 2,
        "BucketSizeBytes": 1,
        "BytesDownloaded": 1,
        "NumberOfObjects": 1,
    }


def test_cloudfront_series_load_with_the_distribution_as_dimension(tmp_path, con):
    """AWS/CloudFront series: dimensions DistributionId and Region=Global; no bucket."""

    def cf(metric: str, stat: str, unit: str, value: float) -> dict:
        return {"Namespace": "AWS/CloudFront", "MetricName": metric, "Period": 3600, "Stat": stat, "Unit": unit,
                "Dimensions": [{"Name": "DistributionId", "Value": "E2PHV7MEDIA0X1"}, {"Name": "Region", "Value": "Global"}],
                "Timestamps": ["2026-09-01T13:00:00Z", "2026-09-02T00:00:00Z"], "Values": [value, 1.0]}  # fmt: skip

    lines = [cf("Requests", "Sum", "None", 1200.0), cf("CacheHitRate", "Average", "Percent", 93.5),
             series("AllRequests", ("FilterId", "EntireBucket"), 3600, "Sum", "Count", [("2026-09-01T13:00:00Z", 4.0)]),
             {**cf("Invocations", "Sum", "None", 1.0), "Namespace": "AWS/Lambda"}]  # fmt: skip
    path = write_jsonl(tmp_path / "2026-09-01.jsonl", lines)
    stage_cloudwatch_jsonl(con, [("cloudwatch/2026-09-01.jsonl", path)], DAY)
    at = datetime(2026, 9, 1, 13)
    assert con.execute(STAGED).fetchall() == [
        (at, "photo-backup-prod", "AllRequests", "FilterId", "EntireBucket", "Sum", 4.0, 3600, "Count", DAY),
        (at, None, "CacheHitRate", "DistributionId", "E2PHV7MEDIA0X1", "Average", 93.5, 3600, "Percent", DAY),
        (at, None, "Requests", "DistributionId", "E2PHV7MEDIA0X1", "Sum", 1200.0, 3600, "None", DAY),
    ]  # fmt: skip


def test_a_point_in_two_files_is_staged_once_with_the_later_value(tmp_path, con):
    first = write_jsonl(tmp_path / "a.jsonl", [series("AllRequests", ("FilterId", "all"), 3600, "Sum", "Count",
                                                      [("2026-09-01T05:00:00Z", 1.0)])])  # fmt: skip
    second = write_jsonl(tmp_path / "b.jsonl", [series("AllRequests", ("FilterId", "all"), 3600, "Sum", "Count",
                                                       [("2026-09-01T05:00:00Z", 4.0)])])  # fmt: skip
    load = stage_cloudwatch_jsonl(con, [("a", first), ("b", second)], DAY)
    assert con.execute("SELECT value FROM stage_cloudwatch_metrics").fetchall() == [(4.0,)]
    # Restaging the day replaces it rather than adding to it.
    stage_cloudwatch_jsonl(con, [("a", first)], DAY)
    assert con.execute("SELECT value FROM stage_cloudwatch_metrics").fetchall() == [(1.0,)]
    assert load.points == 1


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"Namespace": "AWS/S3", "MetricName": ', "not valid JSON"),
        (json.dumps({**series("AllRequests", ("FilterId", "a"), 3600, "Sum", None, []), "Values": [1.0]}),
         "Timestamps and Values differ in length"),
        (json.dumps({**series("AllRequests", ("FilterId", "a"), 3600, "Sum", None, []),
                     "Dimensions": [{"Name": "FilterId", "Value": "a"}]}), "no BucketName dimension"),
    ],
)  # fmt: skip
def test_malformed_line_names_file_and_line(tmp_path, con, bad_line, reason):
    good = series("AllRequests", ("FilterId", "a"), 3600, "Sum", None, [("2026-09-01T05:00:00Z", 1.0)])
    path = write_jsonl(tmp_path / "d.jsonl", [good, good, bad_line])
    with pytest.raises(SourceFormatError, match=rf"^cloudwatch/2026-09-01.jsonl:3: .*{reason}"):
        stage_cloudwatch_jsonl(con, [("cloudwatch/2026-09-01.jsonl", path)], DAY)


def test_table_ddl_accepts_the_stage(tmp_path, con):
    path = write_jsonl(tmp_path / "d.jsonl", [series("AllRequests", ("FilterId", "a"), 3600, "Sum", "Count",
                                                     [("2026-09-01T05:00:00Z", 1.0)])])  # fmt: skip
    stage_cloudwatch_jsonl(con, [("d", path)], DAY)
    con.execute("CREATE SCHEMA raw")
    con.execute(TABLE_DDL)
    con.execute("INSERT INTO raw.cloudwatch_metrics SELECT * FROM stage_cloudwatch_metrics")
    assert con.execute("SELECT count(*) FROM raw.cloudwatch_metrics").fetchall() == [(1,)]


# --- GetMetricData results ------------------------------------------------------------------------


def test_aws_example_response_becomes_series(con):
    request = json.loads((AWS_EXAMPLES / "get_metric_data_request.json").read_text())
    response = json.loads((AWS_EXAMPLES / "get_metric_data_response.json").read_text())
    result = series_from_results(request["MetricDataQueries"], response["MetricDataResults"])
    # The expression query (errrate) is derived, not a metric: skipped. Points come out oldest first.
    assert [(s["MetricName"], s["Dimensions"][1]["Value"], s["Stat"], s["Unit"]) for s in result] == [
        ("BucketSizeBytes", "StandardStorage", "Average", "Bytes"),
        ("BucketSizeBytes", "DeepArchiveStorage", "Average", "Bytes"),
        ("NumberOfObjects", "AllStorageTypes", "Average", "Count"),
        ("AllRequests", "EntireBucket", "Sum", "Count"),
        ("4xxErrors", "EntireBucket", "Sum", "Count"),
        ("FirstByteLatency", "EntireBucket", "p99", "Milliseconds"),
    ]
    assert result[0]["Timestamps"] == ["2026-09-01T00:00:00Z", "2026-09-02T00:00:00Z", "2026-09-03T00:00:00Z"]
    assert result[0]["Values"] == [1073741824000.0, 1078036791296.0, 1084479242240.0]
    load = stage_cloudwatch_series(con, result, date(2026, 9, 2))
    assert con.execute(
        "SELECT metric_name, dimension_value, value FROM stage_cloudwatch_metrics ORDER BY ALL"
    ).fetchall() == [
        ("BucketSizeBytes", "DeepArchiveStorage", 3221225472000.0),
        ("BucketSizeBytes", "StandardStorage", 1078036791296.0),
        ("NumberOfObjects", "AllStorageTypes", 412730.0),
    ]
    assert (load.points, load.series) == (3, 3)
    stage_cloudwatch_series(con, result, date(2026, 9, 1))
    assert con.execute(
        "SELECT sum(value) FROM stage_cloudwatch_metrics WHERE usage_date = ? AND metric_name = 'AllRequests'",
        [date(2026, 9, 1)],
    ).fetchall() == [(98211.0 + 101544.0 + 120377.0,)]


def test_metric_query_choices():
    def metric(name, dim):
        return {
            "MetricName": name,
            "Dimensions": [{"Name": "BucketName", "Value": "b"}, {"Name": dim, "Value": "x"}],
        }

    assert metric_query(metric("BucketSizeBytes", "StorageType"))["Period"] == 86400
    assert metric_query(metric("BucketSizeBytes", "StorageType"))["Stat"] == "Average"
    assert (
        metric_query(metric("GetRequests", "FilterId"))["Stat"],
        metric_query(metric("GetRequests", "FilterId"))["Period"],
    ) == ("Sum", 3600)
    assert metric_query(metric("TotalRequestLatency", "FilterId"))["Stat"] == "Average"
    assert metric_query(metric("ReplicationLatency", "RuleId")) is None


# --- live API against moto ---------------------------------------------------------------------


def put_fixture_metrics(client, filters: int) -> None:
    """Storage metrics for one bucket plus two request metrics for each of ``filters`` filters."""
    midnight = datetime(2026, 9, 1, tzinfo=UTC)
    data = [
        {"MetricName": "BucketSizeBytes", "Dimensions": [{"Name": "BucketName", "Value": BUCKET},
                                                         {"Name": "StorageType", "Value": "StandardStorage"}],
         "Timestamp": midnight, "Value": 5.0e11, "Unit": "Bytes"},
        {"MetricName": "BucketSizeBytes", "Dimensions": [{"Name": "BucketName", "Value": BUCKET},
                                                         {"Name": "StorageType", "Value": "StandardStorage"}],
         "Timestamp": midnight - timedelta(days=1), "Value": 4.0e11, "Unit": "Bytes"},
        {"MetricName": "NumberOfObjects", "Dimensions": [{"Name": "BucketName", "Value": BUCKET},
                                                         {"Name": "StorageType", "Value": "AllStorageTypes"}],
         "Timestamp": midnight, "Value": 1234.0, "Unit": "Count"},
        {"MetricName": "BucketSizeBytes", "Dimensions": [{"Name": "BucketName", "Value": "other-bucket"},
                                                         {"Name": "StorageType", "Value": "StandardStorage"}],
         "Timestamp": midnight, "Value": 1.0, "Unit": "Bytes"},
    ]  # fmt: skip
    for index in range(filters):
        dims = [{"Name": "BucketName", "Value": BUCKET}, {"Name": "FilterId", "Value": f"f{index:03d}"}]
        for hour, count in ((1, 10.0), (1, 5.0), (2, 1.0)):  # two datapoints in hour 1: summed
            data.append({"MetricName": "GetRequests", "Dimensions": dims, "Unit": "Count", "Value": count + index,
                         "Timestamp": midnight + timedelta(hours=hour, minutes=5)})  # fmt: skip
        data.append({"MetricName": "FirstByteLatency", "Dimensions": dims, "Unit": "Milliseconds",
                     "Value": 40.0, "Timestamp": midnight + timedelta(hours=3)})  # fmt: skip
    for offset in range(0, len(data), 20):
        client.put_metric_data(Namespace="AWS/S3", MetricData=data[offset : offset + 20])


class RecordingClient:
    """A moto CloudWatch client that records GetMetricData batch sizes and, optionally, splits every
    answer into two pages (newest points first, ``PartialData`` + ``NextToken``) like AWS may."""

    def __init__(self, client, split_pages: bool) -> None:
        self.client = client
        self.split_pages = split_pages
        self.calls: list[tuple[int, str | None]] = []
        self.pending: dict[str, dict] = {}

    def get_paginator(self, name):
        return self.client.get_paginator(name)

    def get_metric_data(self, **request):
        self.calls.append((len(request["MetricDataQueries"]), request.get("NextToken")))
        if "NextToken" in request:
            return self.pending.pop(request["NextToken"])
        response = self.client.get_metric_data(**request)
        if not self.split_pages:
            return response
        first, second = [], []
        for result in response["MetricDataResults"]:
            pairs = sorted(zip(result["Timestamps"], result["Values"], strict=True), reverse=True)
            half = len(pairs) // 2
            for page, chunk in ((first, pairs[:half]), (second, pairs[half:])):
                page.append({"Id": result["Id"], "Timestamps": [t for t, _ in chunk],
                             "Values": [v for _, v in chunk], "StatusCode": "PartialData"})  # fmt: skip
        token = f"page-{len(self.calls)}"
        self.pending[token] = {"MetricDataResults": second, "Messages": []}
        return {"MetricDataResults": first, "NextToken": token, "Messages": []}


@mock_aws
def test_fetch_metric_series_batches_over_500_queries(con):
    client = boto3.client("cloudwatch", region_name="us-east-1")
    put_fixture_metrics(client, filters=250)  # 2 storage + 250 × 2 request series = 502 queries
    recording = RecordingClient(client, split_pages=False)
    result = fetch_metric_series(recording, DAY, buckets=[BUCKET])
    assert [size for size, _ in recording.calls] == [MAX_QUERIES, 2]
    assert len(result) == 502
    load = stage_cloudwatch_series(con, result, DAY)
    totals = con.execute(
        "SELECT metric_name, stat, period_seconds, unit, count(*), sum(value) FROM stage_cloudwatch_metrics "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert totals == [
        ("BucketSizeBytes", "Average", 86400, "Bytes", 1, 5.0e11),  # the day before is outside [day, day+1)
        ("FirstByteLatency", "Average", 3600, "Milliseconds", 250, 250 * 40.0),
        # per filter i: hour 1 = (10+i) + (5+i), hour 2 = 1+i  → 16 + 3i; summed over i < 250
        ("GetRequests", "Sum", 3600, "Count", 500, 250 * 16 + 3 * sum(range(250))),
        ("NumberOfObjects", "Average", 86400, "Count", 1, 1234.0),
    ]
    assert load.series == 502


@mock_aws
def test_fetch_metric_series_follows_next_token_and_orders_points():
    client = boto3.client("cloudwatch", region_name="us-east-1")
    put_fixture_metrics(client, filters=2)
    recording = RecordingClient(client, split_pages=True)
    result = fetch_metric_series(recording, DAY)
    assert recording.calls == [(7, None), (7, "page-1")]  # 3 storage series (2 buckets) + 2 filters × 2
    gets = [s for s in result if s["MetricName"] == "GetRequests"]
    assert [(s["Dimensions"][1]["Value"], s["Timestamps"], s["Values"]) for s in gets] == [
        ("f000", ["2026-09-01T01:00:00Z", "2026-09-01T02:00:00Z"], [15.0, 1.0]),
        ("f001", ["2026-09-01T01:00:00Z", "2026-09-01T02:00:00Z"], [17.0, 2.0]),
    ]
    buckets = sorted({s["Dimensions"][0]["Value"] for s in result})
    assert buckets == ["cw-fixture", "other-bucket"]  # no bucket filter: every bucket's series


def _day_file(tmp_path: Path, day: date) -> tuple[str, str]:
    """A day's file as the generator writes it, with points of the neighbouring days too."""
    before, after = day - timedelta(days=1), day + timedelta(days=1)
    lines = [
        series("BucketSizeBytes", ("StorageType", "StandardStorage"), 86400, "Average", "Bytes",
               [(f"{before}T00:00:00Z", 1.0e12), (f"{day}T00:00:00Z", 1.0e12 + day.day)]),
        series("AllRequests", ("FilterId", "EntireBucket"), 3600, "Sum", "Count",
               [(f"{day}T05:00:00Z", float(day.day)), (f"{day}T23:00:00Z", 2.0), (f"{after}T00:00:00Z", 9.0)]),
    ]  # fmt: skip
    return f"cloudwatch/{day}.jsonl", write_jsonl(tmp_path / f"{day}.jsonl", lines)


def test_a_window_of_files_stages_what_each_day_stages_from_its_own_file(tmp_path, con):
    from bucketlens.formats.cloudwatch import stage_cloudwatch_jsonl_days

    days = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 2)]
    files = {day: _day_file(tmp_path, day) for day in days}
    alone = {}
    for day in days:
        load = stage_cloudwatch_jsonl(con, [files[day]], day, stage="alone")
        alone[day] = (load.points, load.series, load.points_outside_day, load.by_metric)
    loads = stage_cloudwatch_jsonl_days(con, files, stage="together")

    rows = "SELECT * FROM {} ORDER BY ALL"
    assert con.execute(rows.format("together")).fetchall() == con.execute(rows.format("alone")).fetchall()
    assert {d: (x.points, x.series, x.points_outside_day, x.by_metric) for d, x in loads.items()} == alone
    assert alone[days[0]] == (3, 2, 2, {"AllRequests": 2, "BucketSizeBytes": 1})  # a day before, a day after


def test_a_malformed_file_in_a_window_is_named_with_its_line(tmp_path, con):
    from bucketlens.formats.cloudwatch import stage_cloudwatch_jsonl_days

    days = [date(2026, 9, 30), date(2026, 10, 1)]
    files = {day: _day_file(tmp_path, day) for day in days}
    good = series("AllRequests", ("FilterId", "a"), 3600, "Sum", None, [("2026-10-01T05:00:00Z", 1.0)])
    write_jsonl(Path(files[days[1]][1]), [good, '{"Namespace": "AWS/S3", "MetricName": '])
    with pytest.raises(SourceFormatError, match=r"^cloudwatch/2026-10-01.jsonl:2: not valid JSON"):
        stage_cloudwatch_jsonl_days(con, files, stage="together")
    write_jsonl(Path(files[days[1]][1]), [good, json.dumps({**good, "Values": [1.0, 2.0]})])
    with pytest.raises(SourceFormatError, match=r"^cloudwatch/2026-10-01.jsonl:2: .*differ in length"):
        stage_cloudwatch_jsonl_days(con, files, stage="together")
