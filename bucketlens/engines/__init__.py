"""Where the heavy steps run: DuckDB on one machine (default), Spark, or Athena over the Glue catalog."""
