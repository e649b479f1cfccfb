"""The Athena engine: the catalog's DuckDB SQL transpiled by sqlglot and run through dagster-aws.

Why transpile rather than keep two copies: one copy cannot drift. sqlglot turns DuckDB into
Athena's (Trino) dialect; what it leaves as DuckDB-only are rewritten on its syntax tree:
``GROUP BY ALL`` becomes the explicit non-aggregate columns, ``HUGEINT`` (``INT128``) becomes
``DECIMAL(38, 0)``, ``regexp_full_match`` becomes an anchored ``REGEXP_LIKE``, ``any_value(x)
IGNORE NULLS`` loses the clause Trino rejects, ``hash(a, b, …)`` becomes Trino's ``xxhash64`` of the
values' text, a CTE's ``[NOT] MATERIALIZED`` hint (Trino has none) is dropped, and each ``$name``
parameter becomes ``?``, bound in the order of its occurrences through Athena's ``ExecutionParameters``
(values are never formatted into SQL). ``raw.<table>`` stays as written: the
Glue catalog database named ``raw`` holds the contract's tables (inventory and access logs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import sqlglot
from sqlglot import exp


def _is_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.AggFunc) for n in node.walk()) and not any(
        isinstance(n, exp.Window) for n in node.walk()
    )


def _expand_group_by_all(select: exp.Select) -> None:
    group = select.args.get("group")
    if group is None or not group.args.get("all"):
        return
    keys = [
        p.unalias() if isinstance(p, exp.Alias) else p
        for p in select.expressions
        if not _is_aggregate(p) and any(True for _ in p.find_all(exp.Column))  # constants group nothing
    ]
    select.set("group", exp.Group(expressions=[k.copy() for k in keys]))


def transpile(duckdb_sql: str) -> str:
    """DuckDB SQL → Athena SQL (see the module docstring for what is rewritten)."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    for select in tree.find_all(exp.Select):
        _expand_group_by_all(select)
    for dtype in tree.find_all(exp.DataType):
        if dtype.this == exp.DataType.Type.INT128:
            dtype.replace(exp.DataType.build("DECIMAL(38, 0)"))
    for node in list(tree.find_all(exp.RegexpFullMatch)):
        # DuckDB's regexp_full_match has no Trino name: an anchored regexp_like is the same test
        pattern = exp.Literal.string(f"^(?:{node.expression.this})$")
        node.replace(exp.func("REGEXP_LIKE", node.this.copy(), pattern, dialect="athena"))
    for ignore in list(tree.find_all(exp.IgnoreNulls)):
        # any_value skips NULLs in DuckDB; Trino's arbitrary does too, and rejects the clause
        if isinstance(ignore.this, exp.AnyValue):
            ignore.replace(ignore.this.copy())
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() == "hash":
            # used only to find keys that may be equal (then compared exactly): any hash will do
            parts = [exp.cast(a.copy(), "VARCHAR") for a in node.expressions]
            text = exp.Anonymous(this="concat_ws", expressions=[exp.Literal.string("|"), *parts])
            node.replace(
                exp.Anonymous(
                    this="xxhash64", expressions=[exp.Anonymous(this="to_utf8", expressions=[text])]
                )
            )
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    for param in list(tree.find_all(exp.Parameter, exp.Placeholder)):
        param.replace(exp.Placeholder())
    return tree.sql(dialect="athena")


def _named(duckdb_sql: str) -> str:
    """The query in Athena's dialect with its parameters still named (``:start``), to learn their order."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    for select in tree.find_all(exp.Select):
        _expand_group_by_all(select)
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

    def run(self, duckdb_sql: str, params: dict[str, object]) -> list[dict[str, str | None]]:
        """Transpile, submit with each ``$name`` bound from ``params``, wait, return rows as dicts of strings."""
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
        return self._rows(execution_id)

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

    def _rows(self, execution_id: str) -> list[dict[str, str | None]]:
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
        return rows
