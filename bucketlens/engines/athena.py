"""The Athena engine: the catalog's DuckDB SQL transpiled by sqlglot (``bucketlens.engines.dialects``)
and run through dagster-aws's Athena client.

Each ``$name`` parameter becomes ``?``, bound in the order of its occurrences through Athena's
``ExecutionParameters`` (values are never formatted into SQL). ``raw.<table>`` stays as written: the
Glue catalog database named ``raw`` holds the contract's tables (docs/engines.md gives their DDL).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import sqlglot
from sqlglot import exp

from bucketlens.engines.base import EngineRun, stage_rows
from bucketlens.engines.dialects import expand_group_by_all, transpile_to
from bucketlens.engines.sql_catalog import catalog


def transpile(duckdb_sql: str) -> str:
    """DuckDB SQL → Athena SQL (see ``bucketlens.engines.dialects`` for what is rewritten)."""
    return transpile_to("athena", duckdb_sql)


def _named(duckdb_sql: str) -> str:
    """The query in Athena's dialect with its parameters still named (``:start``), to learn their order."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    expand_group_by_all(tree)
    for param in list(tree.find_all(exp.Parameter)):
        param.replace(exp.Placeholder(this=param.name))
    return tree.sql(dialect="athena")


def parameter_count(athena_sql: str) -> int:
    """How many ``?`` placeholders the transpiled query binds (one per parameter occurrence)."""
    return sum(1 for _ in sqlglot.parse_one(athena_sql, read="athena").find_all(exp.Placeholder))


def parameter_names(duckdb_sql: str) -> list[str]:
    """The ``$name`` parameters of a DuckDB query in the order of the ``?`` that ``transpile`` writes
    (read from the tokens of the generated text, so a parameter inside a string is never counted)."""
    tokens = sqlglot.tokenize(_named(duckdb_sql), read="athena")
    return [
        b.text
        for a, b in zip(tokens, tokens[1:], strict=False)
        if a.token_type.name == "COLON" and b.start == a.end + 1 and b.text.isidentifier()
    ]


def athena_literal(value: object) -> str:
    """An execution parameter as Athena wants it: a DATE literal, an ARRAY of strings, or a string."""
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(athena_literal(str(v)) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def console_link(region: str, execution_id: str) -> str:
    """The query's page in the Athena console (its text, statistics and result)."""
    return (
        f"https://{region}.console.aws.amazon.com/athena/home?region={region}"
        f"#/query-editor/history/{execution_id}"
    )


class AthenaQueryFailed(RuntimeError):
    """Athena finished the query in a state other than SUCCEEDED, or never finished."""


@dataclass
class AthenaEngine:
    """Runs catalog queries on Athena. ``client`` is the boto3 Athena client of a dagster-aws
    ``AthenaClientResource`` (``resource.get_client().client``), so credentials, workgroup and
    polling come from the Dagster resource."""

    client: object
    database: str
    output_location: str
    workgroup: str = "primary"
    polling_interval: float = 1.0
    max_polls: int = 600

    name = "athena"

    def run(self, duckdb_sql: str, params: dict[str, object]) -> list[dict[str, str | None]]:
        """Transpile, submit with each ``$name`` bound from ``params``, wait, return rows as dicts of strings."""
        execution_id = self._execute(duckdb_sql, params)
        return self._rows(execution_id)[1]

    def aggregate(self, con, query: str, params: dict[str, object], stage: str) -> EngineRun:
        """The catalog query on Athena; its rows (text, as Athena returns them) cast into ``stage``."""
        import pyarrow as pa

        execution_id = self._execute(catalog()[query], params)
        names, rows = self._rows(execution_id)
        table = pa.Table.from_pylist(rows, schema=pa.schema([(n, pa.string()) for n in names]))
        stage_rows(con, table, stage)
        return EngineRun(self.name, [execution_id], console_link(self._region(), execution_id))

    def _region(self) -> str:
        meta = getattr(self.client, "meta", None)
        return getattr(meta, "region_name", None) or "us-east-1"

    def _execute(self, duckdb_sql: str, params: dict[str, object]) -> str:
        sql = transpile(duckdb_sql)
        request = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.database},
            "ResultConfiguration": {"OutputLocation": self.output_location},
            "WorkGroup": self.workgroup,
        }
        names = parameter_names(duckdb_sql)
        if names:
            request["ExecutionParameters"] = [athena_literal(params[name]) for name in names]
        execution_id = self.client.start_query_execution(**request)["QueryExecutionId"]
        self._wait(execution_id)
        return execution_id

    def _wait(self, execution_id: str) -> None:
        for _ in range(self.max_polls):
            status = self.client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"][
                "Status"
            ]
            if status["State"] == "SUCCEEDED":
                return
            if status["State"] in ("FAILED", "CANCELLED"):
                raise AthenaQueryFailed(f"{execution_id}: {status.get('StateChangeReason', status['State'])}")
            time.sleep(self.polling_interval)
        raise AthenaQueryFailed(f"{execution_id}: still running after {self.max_polls} polls")

    def _rows(self, execution_id: str) -> tuple[list[str], list[dict[str, str | None]]]:
        rows: list[dict[str, str | None]] = []
        names: list[str] | None = None
        for page in self.client.get_paginator("get_query_results").paginate(QueryExecutionId=execution_id):
            result = page["ResultSet"]
            if names is None:
                names = [c["Name"] for c in result["ResultSetMetadata"]["ColumnInfo"]]
                data = result["Rows"][1:]  # the first row of the first page is the header
            else:
                data = result["Rows"]
            rows += [dict(zip(names, [v.get("VarCharValue") for v in r["Data"]], strict=True)) for r in data]
        return names or [], rows
