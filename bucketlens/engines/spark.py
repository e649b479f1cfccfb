"""The Spark engine: the catalog's queries transpiled to Spark SQL, over the window's raw tables as Parquet.

Why Parquet in a lake directory: Spark does not read the DuckDB warehouse, and the heavy steps read only
the window's days. So the window's rows of each ``raw.<table>`` a query uses are written (by DuckDB, one
``COPY``) under ``<lake>/<table>/<day column>=<day>/`` — hive-partitioned by day, the layout S3 Inventory's
Parquet and the Glue tables over the logs have in production — and each is registered as the temporary
view the transpiled SQL names (``dialects.spark_view``). Only the result, a row per user × class × day,
comes back (as Arrow) into the DuckDB stage table.

The session is local (``local[2]``) unless ``remote`` names a Spark Connect server (``sc://host:15002``);
then the lake must be a path the cluster reads too (docs/engines.md). pyspark is imported only here, when
a Spark engine runs, so the application works without it.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlglot
from sqlglot import exp

from bucketlens.engines.base import EngineRun, stage_rows
from bucketlens.engines.dialects import raw_tables, spark_view, transpile_to
from bucketlens.engines.sql_catalog import catalog
from bucketlens.formats import access_log_schema, inventory

# raw.<table> → (its day column, its columns): what the lake holds and how Spark reads it back.
RAW_TABLES = {
    "inventory_objects": ("snapshot_date", inventory.COLUMNS),
    "access_log_requests": ("usage_date", access_log_schema.COLUMNS),
}
SPARK_TYPES = {"VARCHAR": "STRING", "TIMESTAMP": "TIMESTAMP_NTZ"}  # DuckDB writes TIMESTAMP without zone
LOCAL_CONF = {
    "spark.sql.session.timeZone": "UTC",  # the warehouse's days and timestamps are UTC
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",  # the results are small: 200 shuffle tasks would be all overhead
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}


def spark_schema(table: str) -> str:
    """The DDL schema string of a raw table for ``DataFrameReader.schema`` (so an empty window reads too)."""
    _, columns = RAW_TABLES[table]
    parts = []
    for name, sql_type in columns:
        base = sql_type.replace(" NOT NULL", "")
        parts.append(f"{name} {SPARK_TYPES.get(base, base)}")
    return ", ".join(parts)


def _days(params: dict[str, object]) -> list[date]:
    start, end = params["start"], params["end"]
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def export_window(con, lake: Path, table: str, days: list[date]) -> list[Path]:
    """Write the window's rows of ``raw.<table>`` as Parquet, one directory per day (replacing what a
    previous run wrote for those days); the day directories that hold rows."""
    day_column, _ = RAW_TABLES[table]
    root = lake / table
    for day in days:
        shutil.rmtree(root / f"{day_column}={day.isoformat()}", ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    target = str(root).replace("'", "''")
    con.execute(
        f"COPY (SELECT * FROM raw.{table} WHERE {day_column} BETWEEN $start AND $end) TO '{target}' "
        f"(FORMAT parquet, PARTITION_BY ({day_column}), OVERWRITE_OR_IGNORE true)",
        {"start": days[0], "end": days[-1]},
    )
    return [p for d in days if (p := root / f"{day_column}={d.isoformat()}").exists()]


def spark_parameters(spark_sql: str, params: dict[str, object]) -> dict[str, object]:
    """The named parameters the Spark SQL uses (``:name``), bound from ``params``; Spark refuses none
    missing, so each one the query names must be given."""
    tree = sqlglot.parse_one(spark_sql, read="spark")
    names = dict.fromkeys(p.name for p in tree.find_all(exp.Placeholder) if p.name)
    return {name: list(params[name]) if isinstance(params[name], tuple) else params[name] for name in names}


@dataclass
class SparkEngine:
    """Runs catalog queries on a Spark session: local (``master``) or Spark Connect (``remote``)."""

    lake: Path
    remote: str = ""
    master: str = "local[2]"
    name = "spark"

    def session(self):
        """The process's Spark session (started once: a JVM start costs seconds)."""
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise RuntimeError(
                "BUCKETLENS_ENGINE=spark needs pyspark: `scripts/setup.sh --dev` or "
                "`pip install 'bucketlens[spark]'` (and Java 17 for a local session)"
            ) from exc

        builder = SparkSession.builder.appName("bucketlens")
        if self.remote:
            return builder.remote(self.remote).getOrCreate()
        for key, value in LOCAL_CONF.items():
            builder = builder.config(key, value)
        return builder.master(self.master).getOrCreate()

    def register(self, spark, table: str, paths: list[Path]) -> None:
        """``raw.<table>`` of the window as the temporary view the transpiled SQL reads."""
        reader = spark.read.schema(spark_schema(table))
        if paths:
            frame = reader.option("basePath", str(self.lake / table)).parquet(*map(str, paths))
        else:
            frame = spark.createDataFrame([], spark_schema(table))
        frame.createOrReplaceTempView(spark_view(table))

    def aggregate(self, con, query: str, params: dict[str, object], stage: str) -> EngineRun:
        duckdb_sql = catalog()[query]
        spark = self.session()
        days = _days(params)
        for table in raw_tables(duckdb_sql):
            self.register(spark, table, export_window(con, self.lake, table, days))
        spark_sql = transpile_to("spark", duckdb_sql)
        group = f"bucketlens-{query}-{uuid.uuid4().hex[:12]}"
        context = None if self.remote else spark.sparkContext
        if context is not None:
            context.setJobGroup(group, f"{query} {days[0]} .. {days[-1]}")
        else:
            spark.addTag(group)
        try:
            rows = spark.sql(spark_sql, args=spark_parameters(spark_sql, params)).toArrow()
        finally:
            if context is None:
                spark.removeTag(group)
        stage_rows(con, rows, stage)
        if context is None:  # Spark Connect: the tag names the operations in the server's UI
            return EngineRun(self.name, [group], None)
        jobs = [str(j) for j in sorted(context.statusTracker().getJobIdsForGroup(group))]
        return EngineRun(self.name, jobs, context.uiWebUrl)
