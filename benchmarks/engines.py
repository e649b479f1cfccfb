"""Per-core throughput of the engines on the two heavy steps, and the bytes Athena would scan.

``python -m benchmarks.engines --objects 5M --requests 5M`` (opt-in, not part of the tests) builds a
warehouse whose ``raw.inventory_objects`` holds ``--objects`` versions and ``raw.access_log_requests``
``--requests`` requests of one day (SQL over ``range``: shaped like the generated data — users, classes,
repeated ETags, a join key for every request — and fast to build), then times each catalog query:

* ``duckdb``: ``DuckDBEngine`` with ``SET threads = 1`` (one core);
* ``spark``: ``SparkEngine`` on a ``local[1]`` session (one core): the Parquet export of the window
  (DuckDB, one thread) and the Spark query, each timed, the query twice (cold: the JVM's first plan and
  code generation; warm: what a long-lived cluster pays).

Each is timed in wall seconds and in CPU seconds (this process, and Spark's JVM): the machine is shared,
so rows per CPU-second is the per-core throughput, and wall time says how loaded the machine was.

Both engines' rows are compared (they must be equal). ``--bytes-users`` also generates a small month
with the project's generator (Parquet inventory) to measure what Athena bills by: Parquet inventory
bytes per object version, and access-log bytes per line as delivered and gzip-compressed.
docs/performance.md ("Sizing") holds the figures and the commands that produced them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from assets.usage.user_daily_requests import TABLE_DDL as REQUESTS_DDL
from assets.usage.user_daily_storage import TABLE_DDL as STORAGE_DDL
from benchmarks.suite import machine_load, parse_size
from bucketlens.engines.base import DuckDBEngine
from bucketlens.formats import access_log_schema, inventory

DAY = date(2026, 10, 1)
OWNER = "123456789012"
INVENTORY_SQL = """
INSERT INTO raw.inventory_objects BY NAME
SELECT DATE '2026-10-01' AS snapshot_date, 'bench' AS bucket,
       'users/' || (i % $users) || '/photo-' || i || '.jpg' AS key, 'v' || i AS version_id,
       i % 10 <> 0 AS is_latest, i % 97 = 0 AS is_delete_marker, (hash(i) % 8000000)::BIGINT AS size,
       TIMESTAMP '2026-08-01' + to_seconds(i % 5000000) AS last_modified,
       ['STANDARD', 'STANDARD', 'STANDARD', 'STANDARD_IA', 'GLACIER'][1 + i % 5] AS storage_class,
       '"' || md5((i % ($objects * 9 // 10))::VARCHAR) || '"' AS e_tag, (i % $users)::VARCHAR AS user_id
FROM range($objects) t(i)
"""
REQUESTS_SQL = """
INSERT INTO raw.access_log_requests BY NAME
SELECT DATE '2026-10-01' AS usage_date, 'bench' AS bucket, TIMESTAMP '2026-10-01' + to_seconds(i % 86400) AS request_time,
       'users/' || (o % $users) || '/photo-' || o || '.jpg' AS key, (o % $users)::VARCHAR AS user_id,
       ['REST.GET.OBJECT', 'REST.GET.OBJECT', 'REST.PUT.OBJECT', 'REST.HEAD.OBJECT', 'REST.DELETE.OBJECT'][1 + i % 5] AS operation,
       [200, 200, 200, 206, 304, 403, 404, 503][1 + i % 8] AS http_status,
       (hash(i) % 1000000)::BIGINT AS bytes_sent, (hash(o) % 8000000)::BIGINT AS object_size,
       CASE WHEN i % 7 = 0 THEN '-' ELSE 'arn:aws:iam::' || $owner || ':user/app' END AS requester
FROM (SELECT i, hash(i) % $objects AS o FROM range($requests) t(i))
"""


def build_warehouse(path: Path, objects: int, requests: int, users: int) -> None:
    con = duckdb.connect(str(path))
    for schema in ("raw", "usage"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for ddl in (inventory.TABLE_DDL, access_log_schema.TABLE_DDL, STORAGE_DDL, REQUESTS_DDL):
        con.execute(ddl)
    con.execute(INVENTORY_SQL, {"objects": objects, "users": users})
    con.execute(REQUESTS_SQL, {"objects": objects, "requests": requests, "users": users, "owner": OWNER})
    con.close()


def _cpu_seconds(pid: int | None) -> float:
    """CPU seconds so far of this process (with DuckDB's threads) plus, given, another one (Spark's JVM):
    on a shared machine, rows per CPU-second is the per-core throughput; wall time depends on the load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    if pid:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _timed(fn, pid: int | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``fn()``."""
    cpu, started = _cpu_seconds(pid), time.perf_counter()
    fn()
    return time.perf_counter() - started, _cpu_seconds(pid) - cpu


def measure(path: Path, lake: Path, with_spark: bool) -> list[dict]:
    """Each query on each engine: seconds, input rows per second, and whether the engines agree."""
    con = duckdb.connect(str(path))
    con.execute("SET threads = 1")
    cases = [
        ("user_daily_storage", "usage.user_daily_storage", {"start": DAY, "end": DAY}, "raw.inventory_objects"),
        ("user_daily_requests", "usage.user_daily_requests",
         {"start": DAY, "end": DAY, "owner_accounts": [OWNER]}, "raw.access_log_requests"),
    ]  # fmt: skip
    spark, jvm = None, None
    if with_spark:
        from bucketlens.engines import spark as spark_module

        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        spark = spark_module.SparkEngine(lake=lake, master="local[1]")
        context = spark.session().sparkContext
        context.setLogLevel("ERROR")
        jvm = context._gateway.proc.pid  # spark-submit execs the JVM: its CPU time is Spark's
    results = []
    for query, table, params, source in cases:
        rows = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]

        def stage(name: str, table: str = table) -> str:
            con.execute(f"CREATE OR REPLACE TEMP TABLE stage_{name} AS SELECT * FROM {table} LIMIT 0")
            return f"stage_{name}"

        wall, cpu = _timed(lambda: DuckDBEngine().aggregate(con, query, params, stage("duckdb")))  # noqa: B023
        results.append({"query": query, "engine": "duckdb threads=1", "input_rows": rows,
                        "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                        "rows_per_cpu_second": round(rows / cpu)})  # fmt: skip
        if spark is None:
            continue
        runs = [_timed(lambda: spark.aggregate(con, query, params, stage("spark")), jvm) for _ in range(2)]  # noqa: B023
        export = _timed(lambda: [_export(con, lake, t) for t in _tables(query)])  # noqa: B023
        differ = con.execute(
            "SELECT count(*) FROM ((SELECT * FROM stage_duckdb EXCEPT ALL SELECT * FROM stage_spark) "
            "UNION ALL (SELECT * FROM stage_spark EXCEPT ALL SELECT * FROM stage_duckdb))"
        ).fetchall()[0][0]
        query_wall, query_cpu = runs[1][0] - export[0], runs[1][1] - export[1]  # warm, without the export
        results.append({"query": query, "engine": "spark local[1]", "input_rows": rows,
                        "cold_seconds": round(runs[0][0], 2), "warm_seconds": round(runs[1][0], 2),
                        "export_seconds": round(export[0], 2), "export_cpu_seconds": round(export[1], 2),
                        "query_seconds": round(query_wall, 2), "query_cpu_seconds": round(query_cpu, 2),
                        "rows_per_cpu_second": round(rows / query_cpu), "equal_to_duckdb": differ == 0})  # fmt: skip
    con.close()
    return results


def _tables(query: str) -> list[str]:
    from bucketlens.engines.dialects import raw_tables
    from bucketlens.engines.sql_catalog import catalog

    return raw_tables(catalog()[query])


def _export(con, lake: Path, table: str) -> None:
    from bucketlens.engines.spark import export_window

    export_window(con, lake, table, [DAY])


def scanned_bytes(workdir: Path, users: int) -> dict:
    """Bytes Athena scans per object version (S3 Inventory Parquet) and per log line (plain, gzip),
    measured on a generated month's first days."""
    from synthetic import generate

    root = workdir / "generated"
    summary = generate(root, DAY, 3, users, seed=7, inventory_format="parquet")
    parquet = sum(p.stat().st_size for p in (root / "inventory").rglob("*.parquet"))
    logs = [p for p in (root / "access-logs").rglob("*") if p.is_file()]
    plain = sum(p.stat().st_size for p in logs)
    packed = sum(len(gzip.compress(p.read_bytes(), 6)) for p in logs)
    return {
        "inventory_rows": summary.inventory_rows_total,
        "parquet_bytes_per_object": round(parquet / summary.inventory_rows_total, 1),
        "log_lines": summary.access_log_lines,
        "log_bytes_per_line": round(plain / summary.access_log_lines, 1),
        "gzip_log_bytes_per_line": round(packed / summary.access_log_lines, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines", description=__doc__.split("\n")[0])
    parser.add_argument("--objects", default="5M", help="object versions in the inventory day")
    parser.add_argument("--requests", default="5M", help="access-log requests of the day")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--no-spark", action="store_true", help="DuckDB only (no Java needed)")
    parser.add_argument("--bytes-users", type=int, default=0, help="also measure scanned bytes (users)")
    parser.add_argument("--workdir", help="default: a new temporary directory")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bucketlens-engines-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(machine_load())
    warehouse = workdir / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    build_warehouse(warehouse, parse_size(args.objects), parse_size(args.requests), args.users)
    figures = {"throughput": measure(warehouse, workdir / "lake", not args.no_spark)}
    if args.bytes_users:
        figures["bytes"] = scanned_bytes(workdir, args.bytes_users)
    print(machine_load())
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
