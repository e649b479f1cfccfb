"""Where the set-based SQL runs: DuckDB on one machine (default) or Athena over the Glue catalog."""
