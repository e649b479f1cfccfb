"""The Athena engine runs the catalog's SQL transpiled to Athena's dialect, submitted through
dagster-aws's client with the right database, output location and parameters (moto's Athena)."""

from __future__ import annotations

from datetime import date

import boto3
import pytest
import sqlglot
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends

from bucketlens.engines.athena import AthenaEngine, AthenaQueryFailed, parameter_count, transpile
from bucketlens.engines.sql_catalog import catalog
from bucketlens.settings import Settings, SettingsError
from resources import build_resources
from resources.engine import QueryEngine

DAY = date(2026, 10, 1)


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_catalog_holds_the_assets_queries():
    queries = catalog()
    assert sorted(queries) == ["access_log_day_summary", "user_daily_requests", "user_daily_storage"]
    assert "FROM raw.inventory_objects" in queries["user_daily_storage"]
    assert "FROM raw.access_log_requests" in queries["user_daily_requests"]
    assert not any(q.lstrip().upper().startswith("CREATE") for q in queries.values())


@pytest.mark.parametrize(
    ("name", "params", "present", "absent"),
    [
        (
            "user_daily_storage",
            2,  # the window's first and last day
            ["CAST(SUM(size) AS DECIMAL(38, 0)) * 24 AS byte_hours", "GROUP BY usage_date, user_id, storage_class",
             "WHERE snapshot_date BETWEEN ? AND ?", "INTERVAL '1' DAY", "FILTER(WHERE",
             "XXHASH64(TO_UTF8(CONCAT_WS('|', CAST(usage_date AS VARCHAR), CAST(user_id AS VARCHAR), "
             "CAST(e_tag AS VARCHAR), CAST(size AS VARCHAR)))) AS content_hash", "versions AS (SELECT"],
            ["GROUP BY ALL", "INT128", "HUGEINT", "$day", ":day", " HASH(", "MATERIALIZED ("],
        ),
        (
            "user_daily_requests",
            6,  # the window twice (requests, inventory), the owner's accounts twice (billable 403s)
            ["ARBITRARY(i.storage_class) AS storage_class", "GROUP BY i.snapshot_date, i.bucket, i.key",
             "AND EXISTS(SELECT 1 FROM (SELECT usage_date, bucket, key FROM requests WHERE NOT key IS NULL) AS t",
             "REGEXP_LIKE(UPPER(TRIM(r.operation)), '^(?:REST\\.DELETE\\..*)$')",
             "GROUP BY r.usage_date, r.user_id, r.operation", "CARDINALITY(CAST(? AS ARRAY(VARCHAR))) > 0"],
            ["GROUP BY ALL", "REGEXP_FULL_MATCH", "IGNORE NULLS", "GROUP BY CAST(?", "$day", "LENGTH(CAST(?"],
        ),
        (
            "access_log_day_summary",
            2,
            ["SELECT usage_date, user_id, operation, COUNT(*) AS requests, COUNT(DISTINCT remote_ip) AS client_ips, "
             "CAST(COALESCE(SUM(bytes_sent), 0) AS BIGINT) AS bytes_sent FROM raw.access_log_requests "
             "WHERE usage_date BETWEEN ? AND ? GROUP BY usage_date, user_id, operation"],
            ["GROUP BY ALL", "::"],
        ),
    ],
)  # fmt: skip
def test_every_catalog_query_transpiles_to_athena(name, params, present, absent):
    athena_sql = transpile(catalog()[name])
    for text in present:
        assert text in athena_sql, text
    for text in absent:
        assert text not in athena_sql, text
    assert parameter_count(athena_sql) == params
    sqlglot.parse_one(athena_sql, read="athena")  # Athena's own dialect reads it back


def _canned(rows: list[list[str]], columns: list[str]) -> None:
    backend = athena_backends["123456789012"]["us-east-1"]
    backend.query_results_queue.append(
        QueryResults(
            rows=[{"Data": [{"VarCharValue": c} for c in columns]}]
            + [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
            column_info=[{"Name": c, "Type": "varchar"} for c in columns],
        )
    )


def test_engine_submits_the_transpiled_sql_and_parses_the_results(aws):
    boto3.client("s3").create_bucket(Bucket="athena-results")
    engine = QueryEngine(engine="athena", athena_database="bucketlens_raw",
                         athena_output_location="s3://athena-results/q/", polling_interval=0).athena_engine()  # fmt: skip
    _canned([["1001", "REST.GET.OBJECT", "12", "3", "4096"]],
            ["user_id", "operation", "requests", "client_ips", "bytes_sent"])  # fmt: skip
    rows = engine.run(catalog()["access_log_day_summary"], {"start": DAY, "end": DAY})
    assert rows == [
        {
            "user_id": "1001",
            "operation": "REST.GET.OBJECT",
            "requests": "12",
            "client_ips": "3",
            "bytes_sent": "4096",
        }
    ]
    (execution_id,) = engine.client.list_query_executions()["QueryExecutionIds"]
    execution = engine.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    assert execution["Query"] == transpile(catalog()["access_log_day_summary"])
    assert execution["QueryExecutionContext"]["Database"] == "bucketlens_raw"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://athena-results/q/{execution_id}.csv"
    assert execution["WorkGroup"] == "primary"
    assert execution["ExecutionParameters"] == ["DATE '2026-10-01'", "DATE '2026-10-01'"]  # start, end


class _Stuck:
    """An Athena client whose query never leaves RUNNING, then FAILS: the polling's two exits."""

    def __init__(self, states):
        self.states, self.polls = list(states), 0

    def start_query_execution(self, **_):
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId):
        self.polls += 1
        state = self.states.pop(0) if self.states else "RUNNING"
        return {"QueryExecution": {"Status": {"State": state, "StateChangeReason": "table not found"}}}


def test_polling_waits_then_reports_failure_and_timeout():
    client = _Stuck(["QUEUED", "RUNNING", "FAILED"])
    engine = AthenaEngine(client, "raw", "s3://r/", polling_interval=0, max_polls=10)
    with pytest.raises(AthenaQueryFailed, match="table not found"):
        engine.run("SELECT 1", {})
    assert client.polls == 3
    timeout = AthenaEngine(_Stuck([]), "raw", "s3://r/", polling_interval=0, max_polls=4)
    with pytest.raises(AthenaQueryFailed, match="after 4 polls"):
        timeout.run("SELECT 1", {})


def test_engine_is_chosen_by_configuration(tmp_path):
    def engine(**env: str) -> QueryEngine:
        return build_resources(Settings.from_env({"BUCKETLENS_HOME": str(tmp_path), **env}))["engine"]

    assert engine().engine == "duckdb"
    chosen = engine(BUCKETLENS_ENGINE="athena", BUCKETLENS_ATHENA_OUTPUT="s3://b/p/")
    assert (chosen.engine, chosen.athena_database, chosen.athena_output_location) == (
        "athena",
        "raw",
        "s3://b/p/",
    )
    spark = engine(BUCKETLENS_ENGINE="spark", BUCKETLENS_SPARK_REMOTE="sc://127.0.0.1:15002")
    assert (spark.engine, spark.spark_remote, spark.spark_lake) == (
        "spark",
        "sc://127.0.0.1:15002",
        str(tmp_path / "lake"),
    )
    with pytest.raises(
        SettingsError, match="BUCKETLENS_ENGINE: Input should be 'duckdb', 'spark' or 'athena'"
    ):
        engine(BUCKETLENS_ENGINE="presto")
    with pytest.raises(ValueError, match="not 'athena'"):
        QueryEngine().athena_engine()
