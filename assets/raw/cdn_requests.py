"""raw.cdn_requests: one row per CloudFront viewer request whose own time (UTC) falls on the partition day.

The logs sit under ``cloudfront/`` in the source root, in either shape AWS writes (legacy ``.gz`` W3C
files, or standard logging v2 JSON / Parquet, with or without Hive partitions). A day reads the files
named for it and for its neighbours (``cloudfront_files``), keeps the requests timed on it, and replaces
its partition and its quarantined lines in one transaction, so a rerun — e.g. after a file arrived late —
gives exactly the same rows as one run over everything, never duplicates. A source with no
``cloudfront/`` folder is a service without a CDN: its days are empty partitions, not failures — unless
the warehouse already holds CloudFront requests for such a day: then the source is wrong (a typo, an
unmounted bucket), the step fails and nothing is replaced.
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.raw.guards import days_text, quarantine_sample, source_failures
from assets.window import Check, CheckSpec, DayResult, daily_asset, detail_day, window_days, window_result
from bucketlens.formats import cloudfront as fmt
from bucketlens.formats.cloudfront_files import files_for_days, own_day
from bucketlens.formats.cloudfront_schema import TABLE_DDL
from bucketlens.schema import QUARANTINE_DDL
from resources.service import ServiceLayout
from resources.source_store import SourceStore
from resources.warehouse import Warehouse, transaction

ASSET = dg.AssetKey("cdn_requests")
PREFIX = "cloudfront/"
SOURCE = "cloudfront"
WARN = dg.AssetCheckSeverity.WARN
STAGE, QUARANTINE, OWNERS = "stage_cdn_requests", "stage_cdn_quarantine", "stage_cdn_file_days"

FIGURES_SQL = """
SELECT usage_date, count(*) AS requests, coalesce(sum(bytes_sent), 0) AS bytes,
       count(DISTINCT distribution_id) AS distributions,
       count(*) FILTER (WHERE edge_region = 'unknown') AS unknown_edge_requests,
       list(DISTINCT upper(left(edge_location, 3)) ORDER BY upper(left(edge_location, 3)))
           FILTER (WHERE edge_region = 'unknown' AND edge_location IS NOT NULL) AS unknown_edges,
       count(*) FILTER (WHERE edge_result_type IN ('Hit', 'RefreshHit')) AS hits
FROM raw.cdn_requests WHERE usage_date BETWEEN ? AND ? GROUP BY ALL
"""
QUARANTINED_SQL = """
SELECT partition_date, count(*) FROM raw.quarantine
WHERE source = 'cloudfront' AND partition_date BETWEEN ? AND ? GROUP BY ALL
"""
BY_REGION_SQL = """
SELECT edge_region, count(*), sum(bytes_sent), count(*) FILTER (WHERE edge_result_type IN ('Hit', 'RefreshHit'))
FROM raw.cdn_requests WHERE usage_date = ? GROUP BY ALL ORDER BY 2 DESC
"""


LOADED_SQL = (
    "SELECT usage_date, count(*) FROM raw.cdn_requests WHERE list_contains(?, usage_date) GROUP BY ALL"
)


def refuse_to_empty_loaded_days(con, days, by_day, where: str) -> None:
    """Fail (nothing replaced) when days the warehouse holds CloudFront requests for have no log file in
    the source: an empty partition there would wipe a loaded day, not describe a service without a CDN."""
    empty = [day for day in days if not by_day[day]]
    loaded = dict(con.execute(LOADED_SQL, [empty]).fetchall()) if empty else {}
    if loaded:
        wiped = sorted(loaded)
        raise dg.Failure(
            description=f"No CloudFront log files for {days_text(wiped)} under {where}, but the warehouse "
            f"holds {sum(loaded.values()):,} CloudFront requests of those days. Nothing was replaced: "
            "is the source right?"
        )


def load_window(con, days, source: SourceStore, service: ServiceLayout) -> list[DayResult]:
    """Parse every file any day of the window needs (each once), then replace the window's days and
    their quarantine in one transaction."""
    listing = {o.key: o.size for o in source.list(PREFIX)}
    by_day = files_for_days(sorted(listing), days)
    refuse_to_empty_loaded_days(con, days, by_day, source.describe(PREFIX))
    keys = sorted({k for day in days for k in by_day[day]})
    files = [(key, source.local_path(key, listing[key])) for key in keys]
    load = fmt.stage_cloudfront(con, files, service.ownership(), STAGE, QUARANTINE)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {OWNERS} (file VARCHAR, usage_date DATE)")
    if keys:
        con.execute(
            f"INSERT INTO {OWNERS} SELECT unnest(?::VARCHAR[]), unnest(?::DATE[])",
            [keys, [own_day(k, days) for k in keys]],
        )
    with transaction(con):
        con.execute("DELETE FROM raw.cdn_requests WHERE usage_date BETWEEN ? AND ?", [days[0], days[-1]])
        con.execute(
            "DELETE FROM raw.quarantine WHERE source = ? AND partition_date BETWEEN ? AND ?",
            [SOURCE, days[0], days[-1]],
        )
        con.execute(
            f"INSERT INTO raw.cdn_requests BY NAME SELECT * FROM {STAGE} WHERE usage_date BETWEEN ? AND ?",
            [days[0], days[-1]],
        )
        con.execute(
            f"""INSERT INTO raw.quarantine BY NAME
            SELECT '{SOURCE}' AS source, o.usage_date AS partition_date, q.file, q.line_number, q.raw_text,
                   q.reason, now()::TIMESTAMP AS loaded_at
            FROM {QUARANTINE} q JOIN {OWNERS} o USING (file)
            WHERE o.usage_date BETWEEN ? AND ? ORDER BY o.usage_date, q.file, q.line_number""",
            [days[0], days[-1]],
        )
    for table in (STAGE, QUARANTINE, OWNERS):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return day_results(con, days, by_day, listing, load.unreadable_files)


def day_results(con, days, by_day, listing, unreadable) -> list[DayResult]:
    figures = {row[0]: row[1:] for row in con.execute(FIGURES_SQL, [days[0], days[-1]]).fetchall()}
    quarantined = dict(con.execute(QUARANTINED_SQL, [days[0], days[-1]]).fetchall())
    results = []
    for day in days:
        requests, size, dists, unknown_requests, unknown, hits = figures.get(day, (0, 0, 0, 0, [], 0))
        bad = int(quarantined.get(day, 0))
        unknown = list(unknown or [])
        metadata = {
            "dagster/row_count": int(requests),
            "requests": int(requests),
            "bytes": int(size),
            "files": len(by_day[day]),
            "quarantined_lines": bad,
            "distributions": int(dists),
            "hit_ratio": round(hits / requests, 4) if requests else 0.0,
            "unknown_edge_requests": int(unknown_requests),
            "unknown_edges": ", ".join(unknown),
        }
        if day == detail_day(days):
            metadata.update(detail(con, day))
        results.append(
            DayResult(
                day,
                metadata,
                checks={
                    "edge_locations_known": Check(
                        not unknown,
                        {"unknown_edges": ", ".join(unknown), "requests": int(unknown_requests)},
                        description=(
                            f"Edge codes not in cloudfront_edges.csv on {day}: {', '.join(unknown)} "
                            f"({unknown_requests:,} requests kept with edge_region 'unknown')."
                            if unknown
                            else None
                        ),
                        severity=WARN,
                    ),
                    "quarantine_below_0_1_percent": Check(
                        bad <= max(int(requests) + bad, 1) * 0.001,
                        {"quarantined_lines": bad, "unreadable_files": ", ".join(unreadable)},
                        severity=WARN,
                    ),
                },
            )
        )
    return results


def detail(con, day) -> dict:
    """The tables of a one-day run: requests by edge region, a sample of the quarantined lines."""
    rows = con.execute(BY_REGION_SQL, [day]).fetchall()
    tables = {
        "by_edge_region": markdown_table(
            ["edge region", "requests", "bytes", "hit ratio"],
            [(r, f"{n:,}", f"{b or 0:,}", f"{h / n:.1%}") for r, n, b, h in rows],
        )
    }
    return {**tables, **quarantine_sample(con, "cloudfront", day)}


@daily_asset(
    "cdn_requests",
    "raw",
    checks=(
        CheckSpec(
            "edge_locations_known",
            "Every edge location's airport code maps to a CloudFront price region (unknown codes are "
            "kept as 'unknown' and listed).",
        ),
        CheckSpec("quarantine_below_0_1_percent", "Malformed lines stay under 0.1 % of lines."),
    ),
    kinds=("duckdb", "s3"),
)
def cdn_requests(
    context: dg.AssetExecutionContext, source: SourceStore, warehouse: Warehouse, service: ServiceLayout
) -> dg.MaterializeResult:
    """One row per CloudFront viewer request (legacy or v2 standard logs under ``cloudfront/``), with the
    decoded URI's owner and the edge's price region; malformed lines go to ``raw.quarantine``."""
    days = window_days(context)
    with source_failures(), warehouse.connect() as con:
        con.execute(TABLE_DDL)
        con.execute(QUARANTINE_DDL)
        results = load_window(con, days, source, service)
    context.log.info(
        f"{sum(r.metadata['requests'] for r in results):,} CloudFront requests over {len(days)} day(s)"
    )
    return window_result(results)
