"""Which engine runs the heavy steps (the per-user aggregates): the DuckDB warehouse (default), Spark or
Athena.

Chosen by configuration (``bucketlens.settings``), never by an ``if`` in an asset:
``BUCKETLENS_ENGINE=duckdb|spark|athena``. Spark: ``BUCKETLENS_SPARK_REMOTE`` (a Spark Connect URL
``sc://host:15002``; empty: a local session) and ``BUCKETLENS_SPARK_LAKE`` (where the window's raw tables
are written as Parquet for it). Athena: ``BUCKETLENS_ATHENA_DATABASE`` (Glue database holding the
contract's tables, default ``raw``), ``BUCKETLENS_ATHENA_OUTPUT`` (``s3://bucket/prefix/`` for results)
and ``BUCKETLENS_ATHENA_WORKGROUP``; credentials and region come from boto3's usual chain, through
dagster-aws's ``AthenaClientResource``. docs/engines.md describes each.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_aws.athena import AthenaClientResource

from bucketlens.engines.athena import AthenaEngine
from bucketlens.engines.base import DuckDBEngine, Engine, EngineRun
from bucketlens.settings import default


class QueryEngine(dg.ConfigurableResource):
    """The configured engine: ``usage_engine()`` is what the usage assets run their catalog queries on."""

    engine: str = default("engine")
    athena_database: str = default("athena_database")
    athena_output_location: str = ""
    athena_workgroup: str = default("athena_workgroup")
    polling_interval: int = 1
    spark_remote: str = default("spark_remote")
    spark_lake: str = ""

    def usage_engine(self) -> Engine:
        """The engine named by ``engine``; Spark's module (and pyspark) is imported only when chosen."""
        if self.engine == "duckdb":
            return DuckDBEngine()
        if self.engine == "athena":
            return self.athena_engine()
        if self.engine == "spark":
            from bucketlens.engines.spark import SparkEngine

            if not self.spark_lake:
                raise ValueError("BUCKETLENS_SPARK_LAKE (default $BUCKETLENS_HOME/lake) is empty")
            return SparkEngine(lake=Path(self.spark_lake), remote=self.spark_remote)
        raise ValueError(f"BUCKETLENS_ENGINE {self.engine!r} is not duckdb, spark or athena")

    def athena_engine(self) -> AthenaEngine:
        if self.engine != "athena":
            raise ValueError(f"BUCKETLENS_ENGINE is {self.engine!r}, not 'athena'")
        if not self.athena_output_location.startswith("s3://"):
            raise ValueError("BUCKETLENS_ATHENA_OUTPUT must be an s3:// location for query results")
        athena = AthenaClientResource(workgroup=self.athena_workgroup, polling_interval=self.polling_interval)
        client = athena.get_client()
        return AthenaEngine(
            client=client.client,
            database=self.athena_database,
            output_location=self.athena_output_location,
            workgroup=client.workgroup,
            polling_interval=client.polling_interval,
            max_polls=client.max_polls,
        )


def engine_metadata(run: EngineRun) -> dict[str, object]:
    """What the Dagster UI shows of the engine that ran a materialization: its name, its own job or
    query ids, and a link to them where the engine has one (Spark UI, Athena console)."""
    metadata: dict[str, object] = {"engine": run.engine}
    if run.ids:
        metadata["engine_ids"] = ", ".join(run.ids)
    if run.link:
        metadata["engine_link"] = dg.MetadataValue.url(run.link)
    return metadata
