"""Which engine runs the set-based SQL: the DuckDB warehouse (default) or Athena over the Glue catalog.

Chosen by configuration (``bucketlens.settings``), never by an ``if`` in an asset: ``BUCKETLENS_ENGINE=duckdb|athena``; for
Athena also ``BUCKETLENS_ATHENA_DATABASE`` (Glue database holding the contract's tables, default
``raw``), ``BUCKETLENS_ATHENA_OUTPUT`` (``s3://bucket/prefix/`` for results) and
``BUCKETLENS_ATHENA_WORKGROUP``. Credentials and region come from boto3's usual chain, through
dagster-aws's ``AthenaClientResource``.
"""

from __future__ import annotations

import dagster as dg
from dagster_aws.athena import AthenaClientResource

from bucketlens.engines.athena import AthenaEngine
from bucketlens.settings import default


class QueryEngine(dg.ConfigurableResource):
    """The configured engine; ``athena_engine()`` builds the Athena side when ``engine == 'athena'``."""

    engine: str = default("engine")
    athena_database: str = default("athena_database")
    athena_output_location: str = ""
    athena_workgroup: str = default("athena_workgroup")
    polling_interval: int = 1

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
