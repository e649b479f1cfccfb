"""``BUCKETLENS_ENGINE=athena``: the usage assets submit the transpiled catalog queries through
dagster-aws's Athena client (moto's Athena), and the rows Athena returns — text — land in the usage
tables with the contract's types, the checks run on them, the metadata names the query and its console page."""

from __future__ import annotations

from datetime import date

import boto3
import dagster as dg
import duckdb
import pytest
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends

from assets.usage.user_daily_requests import user_daily_requests
from assets.usage.user_daily_storage import user_daily_storage
from bucketlens.engines.athena import transpile
from bucketlens.engines.sql_catalog import catalog
from bucketlens.formats import access_log_schema, cur, inventory
from bucketlens.settings import Settings
from resources import build_resources
from tests.conftest import bucketlens_env

DAY = date(2026, 10, 2)
OWNER = "123456789012"
INVENTORY_ROWS = """
SELECT DATE '2026-10-02' AS snapshot_date, 'photos' AS bucket, key, 'v1' AS version_id, true AS is_latest,
       false AS is_delete_marker, size, last_modified::TIMESTAMP AS last_modified, storage_class, e_tag, user_id
FROM (VALUES ('users/1001/a.jpg', 100, '2026-09-01 10:00:00', 'STANDARD', '"aa"', '1001'),
             ('users/1001/copy of a.jpg', 100, '2026-10-01 09:00:00', 'STANDARD', '"aa"', '1001'),
             ('users/1002/film.mov', 5000, '2026-08-01 00:00:00', 'GLACIER', '"bb"', '1002'))
     AS t(key, size, last_modified, storage_class, e_tag, user_id)
"""
REQUEST_ROWS = f"""
SELECT DATE '2026-10-02' AS usage_date, 'photos' AS bucket, operation, key, http_status, bytes_sent,
       object_size, requester, user_id
FROM (VALUES ('REST.GET.OBJECT', 'users/1001/a.jpg', 200, 100, 100, 'arn:aws:iam::{OWNER}:user/app', '1001'),
             ('REST.PUT.OBJECT', 'users/1001/new.jpg', 200, NULL, 2048, 'arn:aws:iam::{OWNER}:user/app', '1001'),
             ('REST.GET.OBJECT', 'users/1002/film.mov', 403, 243, NULL, '-', '1002'))
     AS t(operation, key, http_status, bytes_sent, object_size, requester, user_id)
"""


@pytest.fixture
def athena_home(tmp_path, monkeypatch):
    """A warehouse with a day of raw rows, the Athena engine configured, AWS mocked."""
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA raw")
    for ddl in (inventory.TABLE_DDL, access_log_schema.TABLE_DDL, cur.TABLE_DDL):
        con.execute(ddl)
    con.execute(f"INSERT INTO raw.inventory_objects BY NAME {INVENTORY_ROWS}")
    con.execute(f"INSERT INTO raw.access_log_requests BY NAME {REQUEST_ROWS}")
    con.close()
    env = {"BUCKETLENS_ENGINE": "athena", "BUCKETLENS_ATHENA_OUTPUT": "s3://athena-results/q/",
           "BUCKETLENS_ACCOUNT_IDS": OWNER}  # fmt: skip
    with mock_aws(), bucketlens_env(tmp_path, tmp_path / "source", **env):
        boto3.client("s3").create_bucket(Bucket="athena-results")
        yield tmp_path


def _athena_returns(home, query: str, params: dict) -> list[tuple]:
    """Queue in moto's Athena what the query computes on these rows — as Athena sends it, every value
    text and NULL absent — and return the rows (computed by DuckDB, the reference)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    cursor = con.execute(catalog()[query], params)
    columns = [c[0] for c in cursor.description]
    rows = cursor.fetchall()
    con.close()
    text = [[None if v is None else str(v) for v in row] for row in rows]
    athena_backends["123456789012"]["us-east-1"].query_results_queue.append(
        QueryResults(
            rows=[{"Data": [{"VarCharValue": c} for c in columns]}]
            + [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in text],
            column_info=[{"Name": c, "Type": "varchar"} for c in columns],
        )
    )
    return sorted(rows, key=str)


def _materialize(home, asset) -> dg.ExecuteInProcessResult:
    resources = build_resources(Settings.from_env())
    resources["engine"] = resources["engine"].model_copy(update={"polling_interval": 0})
    return dg.materialize([asset], partition_key=DAY.isoformat(), resources=resources, raise_on_error=False)


def _table(home, table: str) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.execute(f"SELECT * FROM {table}").fetchall()
    con.close()
    return sorted(rows, key=str)


def _executions() -> list[dict]:
    client = boto3.client("athena")
    ids = client.list_query_executions()["QueryExecutionIds"]
    return [client.get_query_execution(QueryExecutionId=i)["QueryExecution"] for i in ids]


def test_storage_on_athena_lands_typed_in_the_usage_table(athena_home):
    expected = _athena_returns(athena_home, "user_daily_storage", {"start": DAY, "end": DAY})
    result = _materialize(athena_home, user_daily_storage)
    assert result.success
    assert (
        _table(athena_home, "usage.user_daily_storage")
        == expected
        == [
            # day, user, class, versions, bytes, byte-hours, added, duplicate, noncurrent, small objects
            (DAY, "1001", "STANDARD", 2, 200, 4800, 100, 100, 0, 2),
            (DAY, "1002", "GLACIER", 1, 5000, 120000, 0, 0, 0, 1),
        ]
    )
    (execution,) = _executions()
    assert execution["Query"] == transpile(catalog()["user_daily_storage"])
    assert execution["ExecutionParameters"] == ["DATE '2026-10-02'", "DATE '2026-10-02'"]
    assert execution["QueryExecutionContext"]["Database"] == "raw"
    metadata = result.asset_materializations_for_node("user_daily_storage")[0].metadata
    assert metadata["engine"].value == "athena"
    assert metadata["engine_ids"].value == execution["QueryExecutionId"]
    assert metadata["engine_link"].value == (
        "https://us-east-1.console.aws.amazon.com/athena/home?region=us-east-1"
        f"#/query-editor/history/{execution['QueryExecutionId']}"
    )
    assert all(e.passed for e in result.get_asset_check_evaluations())  # 5,200 bytes, as inventoried


def test_requests_on_athena_bind_the_owner_accounts(athena_home):
    expected = _athena_returns(
        athena_home, "user_daily_requests", {"start": DAY, "end": DAY, "owner_accounts": [OWNER]}
    )
    result = _materialize(athena_home, user_daily_requests)
    assert result.success
    rows = _table(athena_home, "usage.user_daily_requests")
    assert rows == expected
    # user, operation, class, status class, tier, requests, billable, errors, sent, received, restored,
    # bytes CloudFront fetched
    assert [r[1:] for r in rows] == [
        ("1001", "REST.GET.OBJECT", "STANDARD", "2xx", "tier2", 1, 1, 0, 100, 0, 0, 0),
        ("1001", "REST.PUT.OBJECT", "STANDARD", "2xx", "tier1", 1, 1, 0, 0, 2048, 0, 0),
        ("1002", "REST.GET.OBJECT", "GLACIER", "4xx", "tier2", 1, 0, 1, 243, 0, 0, 0),  # anonymous 403: free
    ]
    (execution,) = _executions()
    assert execution["Query"] == transpile(catalog()["user_daily_requests"])
    assert execution["ExecutionParameters"].count(f"ARRAY['{OWNER}']") == 2
    metadata = result.asset_materializations_for_node("user_daily_requests")[0].metadata
    assert metadata["engine"].value == "athena"
    assert all(e.passed for e in result.get_asset_check_evaluations())  # 3 requests, as logged
