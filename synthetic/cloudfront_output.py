"""The CDN requests of ``synthetic.cloudfront`` as AWS writes them: CloudFront standard logs (legacy
gzip W3C files, or standard logging v2 JSON / Parquet under Hive-style partitions), the CUR 2.0 line
items of ``AmazonCloudFront`` (per day, distribution and edge region), and the CloudWatch
``AWS/CloudFront`` series (hourly, per distribution) — all aggregated in DuckDB from the same rows, so
the three sources agree with each other to the byte and the request.

Files are named for the hour their requests occurred in (``<distribution>.YYYY-MM-DD-HH.<id>.gz``), one
file per distribution and hour; one *late* file holds the last ten minutes of a day under the next
day's first hour (as CloudFront does when a period's entries are delivered late), and two days get a
truncated (malformed) line each, labelled ``malformed_cdn_line``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from isal import igzip

from synthetic import prices
from synthetic.access_logs import in_batches
from synthetic.cloudfront import DISTRIBUTIONS, EDGE_CODES, EDGE_REGIONS, RESULTS, CdnRequests
from synthetic.layout import ACCOUNT_ID, det_hex, epoch

# The header line as AWS writes it (the 33 legacy fields, in order).
FIELDS_LINE = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
    "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
    "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
)
FIELDS = tuple(FIELDS_LINE.split(" "))
HEADER = "#Version: 1.0\n#Fields: " + FIELDS_LINE + "\n"
USER_AGENTS = (
    "PhotoVault/5.2 (iPhone; iOS 18.1)",
    "PhotoVault/5.2 (Android 15; Pixel 9)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
)
CLOUDFRONT = "AmazonCloudFront"

# One row per request with every field as text (decoded); the legacy line URL-encodes what AWS encodes.
# A view, read a day at a time: materialising every field of a month's requests at once took 2 GB.
# Its $names are constants of this module, written into the SQL as literals (a view takes no parameters).
_FIELDS_SQL = """
CREATE OR REPLACE TEMP VIEW cdn_fields AS
SELECT r.ts_ms, r.seq, r.dist, ($dists)[r.dist + 1] AS dist_id, r.https, r.bytes, r.status, r.result,
       ($regions)[r.edge + 1] AS region,
       strftime(make_timestamp(r.ts_ms * 1000), '%Y-%m-%d') AS f_date,
       strftime(make_timestamp(r.ts_ms * 1000), '%H:%M:%S') AS f_time,
       ($edges)[r.edge + 1] || lpad(CAST(r.edge_n AS VARCHAR), 2, '0') || '-C' || (r.edge_n % 3 + 1) AS edge,
       CAST(r.bytes AS VARCHAR) AS sc_bytes,
       ((r.ip >> 24) % 200 + 23) || '.' || ((r.ip >> 16) % 256) || '.' || ((r.ip >> 8) % 256) || '.' || (r.ip % 254 + 1) AS c_ip,
       CASE WHEN r.head THEN 'HEAD' ELSE 'GET' END AS method,
       ($cf_hosts)[r.dist + 1] AS cs_host,
       '/' || r.key AS uri,
       CAST(r.status AS VARCHAR) AS sc_status,
       CASE WHEN r.referer = 0 THEN 'https://photovault.example/albums/shared'
            WHEN r.referer > 0 THEN 'https://forum-' || r.referer || '.example.net/t/' || (r.seq % 997) END AS referer,
       ($uas)[r.ua + 1] AS ua,
       ($uas_encoded)[r.ua + 1] AS ua_encoded,
       CASE WHEN r.buster >= 0 THEN 'v=' || r.buster END AS query,
       ($results)[r.result + 1] AS result_type,
       to_base64(unhex(md5($seed || '-' || r.seq || '-' || r.ts_ms))) AS request_id,
       ($hosts)[r.dist + 1] AS host_header,
       CASE WHEN r.https THEN 'https' ELSE 'http' END AS protocol,
       CAST(180 + r.seq % 300 AS VARCHAR) AS cs_bytes,
       CAST(CAST(r.taken_ms / 1000.0 AS DECIMAL(12, 3)) AS VARCHAR) AS time_taken,
       CASE WHEN r.https THEN 'TLSv1.3' END AS ssl_protocol,
       CASE WHEN r.https THEN 'TLS_AES_128_GCM_SHA256' END AS ssl_cipher,
       CASE WHEN r.https THEN 'HTTP/2.0' ELSE 'HTTP/1.1' END AS protocol_version,
       CAST(1024 + r.seq % 60000 AS VARCHAR) AS c_port,
       CAST(CAST(r.ttfb_ms / 1000.0 AS DECIMAL(12, 3)) AS VARCHAR) AS ttfb,
       CASE WHEN r.status >= 500 THEN 'OriginConnectError' ELSE ($results)[r.result + 1] END AS detailed,
       CASE WHEN suffix(r.key, '.mp4') OR suffix(r.key, '.mov') THEN 'video/mp4'
            WHEN suffix(r.key, '.heic') THEN 'image/heic'
            WHEN suffix(r.key, '.png') THEN 'image/png' ELSE 'image/jpeg' END AS content_type,
       CASE WHEN r.status IN (200, 206) THEN CAST(r.bytes - 400 AS VARCHAR) END AS content_len,
       -- the file: the request's hour, except the late file (the last ten minutes of one day)
       CASE WHEN r.dist = 0 AND r.ts_ms >= $late_from AND r.ts_ms < $late_to
            THEN make_timestamp($late_to * 1000) ELSE date_trunc('hour', make_timestamp(r.ts_ms * 1000)) END AS period,
       r.ts_ms >= $late_from AND r.ts_ms < $late_to AND r.dist = 0 AS late
FROM cdn_requests r
"""
_ENC = "replace(url_encode({x}), '%2F', '/')"
# concat_ws: one call per line (33 chained || allocated a string per field); no field is NULL here.
_LEGACY_LINE = "concat_ws(chr(9), " + ", ".join(
    [
        "f_date", "f_time", "edge", "sc_bytes", "c_ip", "method", "cs_host", _ENC.format(x="uri"), "sc_status",
        "coalesce(referer, '-')", "ua_encoded", "coalesce(query, '-')", "'-'",
        "result_type", "request_id", "host_header", "protocol", "cs_bytes", "time_taken", "'-'",
        "coalesce(ssl_protocol, '-')", "coalesce(ssl_cipher, '-')", "result_type", "protocol_version", "'-'",
        "'-'", "c_port", "ttfb", "detailed", "content_type", "coalesce(content_len, '-')", "'-'", "'-'",
    ]
) + ")"  # fmt: skip
_V2_VALUES = (
    "f_date", "f_time", "edge", "sc_bytes", "c_ip", "method", "cs_host", "uri", "sc_status", "referer", "ua",
    "query", "NULL", "result_type", "request_id", "host_header", "protocol", "cs_bytes", "time_taken", "NULL",
    "ssl_protocol", "ssl_cipher", "result_type", "protocol_version", "NULL", "NULL", "c_port", "ttfb", "detailed",
    "content_type", "content_len", "NULL", "NULL",
)  # fmt: skip


def register(con: duckdb.DuckDBPyConnection, cdn: CdnRequests, keys: pa.Array, seed: int) -> None:
    """Make the view ``cdn_fields`` (every request with its fields as text) over the simulated columns,
    registered as ``cdn_requests`` until :func:`unregister`."""
    con.register("cdn_requests", in_batches(cdn.table.append_column("key", keys)))
    late_to = (epoch(cdn.late_file_day or date(1970, 1, 1)) + 86_400) * 1000
    values = {
        "dists": [d[0] for d in DISTRIBUTIONS], "hosts": [d[1] for d in DISTRIBUTIONS],
        "cf_hosts": [f"d{det_hex(seed, 'cf-host', d[0], length=13)}.cloudfront.net" for d in DISTRIBUTIONS],
        "regions": EDGE_REGIONS, "edges": EDGE_CODES, "uas": list(USER_AGENTS), "results": list(RESULTS),
        "uas_encoded": [quote(ua, safe="/;:(),.") for ua in USER_AGENTS],
        "seed": str(seed), "late_from": late_to - 600_000, "late_to": late_to,
    }  # fmt: skip
    sql = _FIELDS_SQL
    for name in sorted(values, key=len, reverse=True):  # $late_from before a shorter name's prefix
        sql = sql.replace(f"${name}", _literal(values[name]))
    con.execute(sql)


def unregister(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DROP VIEW IF EXISTS cdn_fields")
    con.unregister("cdn_requests")


def _literal(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def write_logs(con, out_dir: Path, seed: int, fmt: str = "legacy", malformed_days=()) -> dict[date, int]:
    """Write every file; returns the malformed lines written per day (one per day of ``malformed_days``)."""
    if fmt == "legacy":
        line = _LEGACY_LINE
    elif fmt == "v2-json":
        line = (
            "json_object(" + ", ".join(f"'{n}', {v}" for n, v in zip(FIELDS, _V2_VALUES, strict=True)) + ")"
        )
    elif fmt == "v2-parquet":
        return _write_parquet(con, out_dir, seed)
    else:
        raise ValueError(f"unknown CloudFront log format {fmt!r}")
    with ThreadPoolExecutor(max_workers=2) as pool:  # zlib releases the GIL: compress while DuckDB formats
        return _write_files(con, pool, line, out_dir, seed, fmt, set(malformed_days))


def _write_files(con, pool, line: str, out_dir: Path, seed: int, fmt: str, wanted: set) -> dict[date, int]:
    bad: dict[date, int] = {}
    pending = []
    for dist_id, period, late, body in _day_files(con, line):
        day = period.date()
        if (
            fmt == "legacy"
            and day in wanted
            and not late
            and period.hour == 12
            and dist_id == DISTRIBUTIONS[0][0]
        ):
            body += "\n" + "\t".join(body.split("\n", 1)[0].split("\t")[:12])  # cut short: 12 of 33 fields
            bad[day] = bad.get(day, 0) + 1
        text = (HEADER if fmt == "legacy" else "") + body + "\n"
        path = out_dir / _file_key(dist_id, period, late, seed, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        pending.append(pool.submit(_write_gzip, path, text))
        if len(pending) > 96:  # bounded: at most a few days' text waits for its compression
            pending.pop(0).result()
    for future in pending:
        future.result()
    return bad


def _write_gzip(path: Path, text: str) -> None:
    """ISA-L's gzip at level 1, as the inventory reports are written (the month's CloudFront files: zlib's
    fastest level took ~4.7 CPU s, ISA-L ~1); mtime 0 keeps it reproducible."""
    path.write_bytes(igzip.compress(text.encode(), compresslevel=1, mtime=0))


def _day_files(con, line: str):
    """(distribution, period, late, text) of every file, formatted a day at a time (bounded memory)."""
    first, last = con.execute(
        "SELECT min(ts_ms) // 86400000, max(ts_ms) // 86400000 FROM cdn_requests"
    ).fetchall()[0]
    for day in range(int(first), int(last) + 1) if first is not None else ():
        yield from con.execute(
            f"SELECT dist_id, period, late, string_agg({line}, chr(10) ORDER BY ts_ms, seq) FROM cdn_fields "
            "WHERE ts_ms >= ? AND ts_ms < ? GROUP BY ALL ORDER BY period, dist_id, late",
            [day * 86_400_000, (day + 1) * 86_400_000],
        ).fetchall()


def _file_key(dist_id: str, period: datetime, late: bool, seed: int, fmt: str) -> str:
    unique = det_hex(seed, "cf-file", dist_id, period, late, length=8).upper()
    stamp = f"{period:%Y-%m-%d-%H}"
    if fmt == "legacy":
        return f"cloudfront/{dist_id}.{stamp}.{unique}.gz"
    ext = "json.gz" if fmt == "v2-json" else "parquet"
    return (
        f"cloudfront/v2/DistributionId={dist_id}/year={period:%Y}/month={period:%m}/day={period:%d}/"
        f"hour={period:%H}/{dist_id}_{stamp}_{unique}.{ext}"
    )


def _write_parquet(con, out_dir: Path, seed: int) -> dict[date, int]:
    names = ", ".join(
        f'{v} AS "{n.replace("(", "_").replace(")", "").replace("-", "_").lower()}"'
        for n, v in zip(FIELDS, _V2_VALUES, strict=True)
    )
    groups = con.execute("SELECT DISTINCT dist_id, period, late FROM cdn_fields ORDER BY ALL").fetchall()
    for dist_id, period, late in groups:
        table = con.sql(
            f"SELECT {names} FROM cdn_fields WHERE dist_id = $d AND period = $p AND late = $l ORDER BY ts_ms, seq",
            params={"d": dist_id, "p": period, "l": late},
        ).to_arrow_table()
        path = out_dir / _file_key(dist_id, period, late, seed, "v2-parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.cast(pa.schema([(f.name, pa.string()) for f in table.schema])), path)
    return {}


def usage_by_day(con) -> dict[date, list[tuple]]:
    """(distribution, region, bytes, HTTP requests, HTTPS requests) per day, for the cost export."""
    out: dict[date, list[tuple]] = {}
    for row in con.execute(
        "SELECT CAST(make_timestamp(ts_ms * 1000) AS DATE) AS d, dist_id, region, sum(bytes), "
        "count(*) FILTER (NOT https), count(*) FILTER (https) FROM cdn_fields GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        out.setdefault(row[0], []).append(row[1:])
    return out


def cur_lines(day: date, usage: list[tuple], make_line, seed: int) -> list[dict]:
    """The day's AmazonCloudFront line items: data transfer out per region (GB), HTTP requests
    (``Requests-Tier1``) and HTTPS requests (``Requests-Tier2-HTTPS``) per region, per distribution."""
    lines = []
    for dist_id, region, size, http, https in usage:
        arn = f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{dist_id}"
        for usage_type, op, amount, rate, unit, text in (
            (f"{region}-DataTransfer-Out-Bytes", "GET", size / prices.GIB, prices.CLOUDFRONT_PER_GB[region], "GB",
             f"${prices.CLOUDFRONT_PER_GB[region]} per GB - first 10 TB / month data transfer out ({region})"),
            (f"{region}-Requests-Tier1", "GET", float(http), prices.CLOUDFRONT_HTTP_PER_10K[region] / 10_000,
             "Requests", f"${prices.CLOUDFRONT_HTTP_PER_10K[region]} per 10,000 HTTP requests ({region})"),
            (f"{region}-Requests-Tier2-HTTPS", "GET", float(https), prices.CLOUDFRONT_HTTPS_PER_10K[region] / 10_000,
             "Requests", f"${prices.CLOUDFRONT_HTTPS_PER_10K[region]} per 10,000 HTTPS requests ({region})"),
        ):  # fmt: skip
            if amount <= 0:
                continue
            li = make_line(day, "Usage", CLOUDFRONT, usage_type, op, amount, rate, unit, text, seed)
            li["identity_line_item_id"] = det_hex(seed, "line", day, CLOUDFRONT, usage_type, arn, length=52)
            li["line_item_resource_id"] = arn
            li["product_region_code"] = "global"
            li["product"] = [
                ("product_name", "Amazon CloudFront"), ("region", "global"), ("servicecode", CLOUDFRONT),
                ("location", region),
            ]  # fmt: skip
            lines.append(li)
    return lines


CW_METRICS = (
    ("Requests", "Sum", "None", "count(*)"),
    ("BytesDownloaded", "Sum", "None", "sum(bytes)"),
    ("4xxErrorRate", "Average", "Percent", "100.0 * count(*) FILTER (status BETWEEN 400 AND 499) / count(*)"),
    ("5xxErrorRate", "Average", "Percent", "100.0 * count(*) FILTER (status >= 500) / count(*)"),
    ("TotalErrorRate", "Average", "Percent", "100.0 * count(*) FILTER (status >= 400) / count(*)"),
    (
        "CacheHitRate",
        "Average",
        "Percent",
        "100.0 * count(*) FILTER (result_type IN ('Hit', 'RefreshHit')) / greatest(count(*) FILTER (status < 400), 1)",
    ),
)


def cloudwatch_series(con) -> dict[date, list[dict]]:
    """Hourly ``AWS/CloudFront`` series per distribution and day (dimensions DistributionId, Region=Global)."""
    aggregates = ", ".join(f"coalesce({expr}, 0)" for _, _, _, expr in CW_METRICS)
    rows = con.execute(
        f"SELECT CAST(make_timestamp(ts_ms * 1000) AS DATE) AS d, dist_id, "
        f"hour(make_timestamp(ts_ms * 1000)) AS h, {aggregates} FROM cdn_fields GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    grouped: dict[tuple, dict[int, tuple]] = {}
    for d, dist_id, h, *values in rows:
        grouped.setdefault((d, dist_id), {})[h] = values
    out: dict[date, list[dict]] = {}
    for (d, dist_id), hours in grouped.items():
        stamps = [f"{d.isoformat()}T{h:02d}:00:00Z" for h in range(24)]
        for i, (name, stat, unit, _) in enumerate(CW_METRICS):
            out.setdefault(d, []).append(
                {
                    "Namespace": "AWS/CloudFront",
                    "MetricName": name,
                    "Dimensions": [
                        {"Name": "DistributionId", "Value": dist_id},
                        {"Name": "Region", "Value": "Global"},
                    ],
                    "Period": 3600,
                    "Stat": stat,
                    "Unit": unit,
                    "Timestamps": stamps,
                    "Values": [float(hours[h][i]) if h in hours else 0.0 for h in range(24)],
                }
            )
    return out


def malformed_days(start: date, days: int) -> list[date]:
    """The two days that get a truncated line."""
    picks = sorted({min(3, days - 1), max(0, days - 5)})
    return [start + timedelta(days=i) for i in picks]
