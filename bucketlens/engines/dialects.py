"""One copy of each query: the catalog's DuckDB SQL rewritten on its syntax tree for Athena and Spark.

Why transpile rather than keep copies: a copy drifts. sqlglot translates most of DuckDB's SQL by itself;
what it leaves DuckDB-only is rewritten here, on the tree, in two layers:

* shared by every target: ``GROUP BY ALL`` becomes the explicit non-aggregate columns, ``HUGEINT``
  (``INT128``) becomes ``DECIMAL(38, 0)``, ``regexp_full_match`` becomes an anchored ``REGEXP_LIKE`` /
  ``RLIKE``, and a CTE's ``[NOT] MATERIALIZED`` hint (a DuckDB planner hint) is dropped;
* per dialect (``ATHENA`` and ``SPARK`` below): how ``hash(a, b, …)`` is spelt (used only to find keys
  that *may* be equal, then compared exactly, so any 64-bit hash will do), how ``any_value`` skips NULLs,
  how parameters are written (Athena: positional ``?`` bound through ``ExecutionParameters``; Spark: named
  ``:name`` bound through ``spark.sql(args=…)``), how an array's length is taken (``cardinality``,
  ``size``), and for Spark the tuple ``IN`` subquery and the ``raw.<table>`` names (temporary views, see
  ``spark_view``).

Values are never formatted into the SQL: every ``$name`` stays a parameter.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp


def _is_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.AggFunc) for n in node.walk()) and not any(
        isinstance(n, exp.Window) for n in node.walk()
    )


def expand_group_by_all(tree: exp.Expression) -> None:
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None or not group.args.get("all"):
            continue
        keys = [
            p.unalias() if isinstance(p, exp.Alias) else p
            for p in select.expressions
            if not _is_aggregate(p) and any(True for _ in p.find_all(exp.Column))  # constants group nothing
        ]
        select.set("group", exp.Group(expressions=[k.copy() for k in keys]))


def _common(tree: exp.Expression, regexp_like: str) -> None:
    """The rewrites every target needs (see the module docstring)."""
    expand_group_by_all(tree)
    for dtype in tree.find_all(exp.DataType):
        if dtype.this == exp.DataType.Type.INT128:
            dtype.replace(exp.DataType.build("DECIMAL(38, 0)"))
    for node in list(tree.find_all(exp.RegexpFullMatch)):
        # DuckDB's regexp_full_match has no name elsewhere: an anchored regexp test is the same test
        pattern = exp.Literal.string(f"^(?:{node.expression.this})$")
        node.replace(exp.Anonymous(this=regexp_like, expressions=[node.this.copy(), pattern]))
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)


def _hash_calls(tree: exp.Expression) -> list[exp.Anonymous]:
    return [n for n in tree.find_all(exp.Anonymous) if n.name.lower() == "hash"]


def _array_length(tree: exp.Expression, function: str) -> None:
    """DuckDB's ``len()`` of a list (sqlglot reads it as ``LENGTH``, which Trino and Spark take only for
    strings) as the dialect's array length: Trino's ``cardinality``, Spark's ``size``."""
    for length in list(tree.find_all(exp.Length)):
        if isinstance(length.this, exp.Cast) and length.this.to.is_type(exp.DataType.Type.ARRAY):
            length.replace(exp.Anonymous(this=function, expressions=[length.this.copy()]))


def _athena(tree: exp.Expression) -> None:
    _array_length(tree, "cardinality")
    for node in _hash_calls(tree):
        parts = [exp.cast(a.copy(), "VARCHAR") for a in node.expressions]
        text = exp.Anonymous(this="concat_ws", expressions=[exp.Literal.string("|"), *parts])
        node.replace(
            exp.Anonymous(this="xxhash64", expressions=[exp.Anonymous(this="to_utf8", expressions=[text])])
        )
    for ignore in list(tree.find_all(exp.IgnoreNulls)):
        # any_value skips NULLs in DuckDB; Trino's arbitrary does too, and rejects the clause
        if isinstance(ignore.this, exp.AnyValue):
            ignore.replace(ignore.this.copy())
    for param in list(tree.find_all(exp.Parameter, exp.Placeholder)):
        param.replace(exp.Placeholder())


def spark_view(table: str) -> str:
    """The temporary view a ``raw.<table>`` of the catalog reads on Spark (a session's temporary views
    live outside any database, so the schema becomes part of the name)."""
    return f"bucketlens_raw_{table}"


def _spark(tree: exp.Expression) -> None:
    for node in _hash_calls(tree):
        node.replace(exp.Anonymous(this="xxhash64", expressions=[a.copy() for a in node.expressions]))
    _array_length(tree, "size")
    for subquery in tree.find_all(exp.Subquery, exp.Select):
        # (a, b) IN (SELECT (x, y) …): DuckDB compares structs; Spark wants the subquery's columns
        select = subquery if isinstance(subquery, exp.Select) else None
        if select and len(select.expressions) == 1 and isinstance(select.expressions[0], exp.Tuple):
            select.set("expressions", [e.copy() for e in select.expressions[0].expressions])
    for table in list(tree.find_all(exp.Table)):
        if table.db == "raw":
            table.replace(
                exp.Table(this=exp.to_identifier(spark_view(table.name)), alias=table.args.get("alias"))
            )
    for param in list(tree.find_all(exp.Parameter)):
        param.replace(exp.Placeholder(this=param.name))


TARGETS: dict[str, tuple[str, str, Callable[[exp.Expression], None]]] = {
    # target → (sqlglot dialect, its anchored-regexp function, its own rewrites)
    "athena": ("athena", "REGEXP_LIKE", _athena),
    "spark": ("spark", "RLIKE", _spark),
}


def transpile_to(target: str, duckdb_sql: str) -> str:
    """DuckDB SQL → the ``target`` engine's SQL (``athena`` or ``spark``), rewritten as described above."""
    dialect, regexp_like, rewrite = TARGETS[target]
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    _common(tree, regexp_like)
    rewrite(tree)
    return tree.sql(dialect=dialect, comments=False)  # the comments explain DuckDB's plan, not theirs


def raw_tables(duckdb_sql: str) -> list[str]:
    """The contract's ``raw.<table>`` names a query reads, in order of first use: what an engine that
    does not share the warehouse (Spark) must be given."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    return list(dict.fromkeys(t.name for t in tree.find_all(exp.Table) if t.db == "raw"))
