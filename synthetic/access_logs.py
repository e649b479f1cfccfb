"""S3 server access logs as AWS delivers them: space-separated records in many small log objects under
``access-logs/``, named by delivery time, delivered late, occasionally twice.

Records are formatted in one DuckDB query (no per-line Python). REST.* keys are URL-encoded twice
(space -> ``%2520``), BATCH.DELETE.OBJECT and S3.EXPIRE.OBJECT keys once, form-style (space -> ``+``);
the request-URI carries the key percent-encoded once. Current records have 27 fields; ~5 % are older
24- or 25-field records. Each record is delivered 5 min - 3 h after the request into a 10-minute
delivery window (so late-evening requests land in the next day's objects) and ~0.5 % are delivered
again in a later object. Log object keys use the simple form for the first half of the period and the
date-partitioned form after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from synthetic.layout import (
    ACCOUNT_ID,
    DAY_SECONDS,
    REGION,
    SOURCE_BUCKET,
    day_of,
    det_hex,
    epoch,
    rng_for,
)
from synthetic.population import Population
from synthetic.traffic import OPS, REQUESTERS, Requests

BUCKET_OWNER = det_hex(0, "canonical-owner", length=64)
HOST = f"{SOURCE_BUCKET}.s3.{REGION}.amazonaws.com"
DELIVERY_WINDOW = 600
DUPLICATE_RATE = 0.005
MALFORMED_RATE = 0.0002

_LINE_SQL = r"""
WITH r AS (
  SELECT *, replace(replace(url_encode(key), '%2F', '/'), '%20', '+') AS key_form,
         replace(url_encode(key), '%2F', '/') AS key_uri,
         lpad(upper(to_hex(rid)), 16, '0') AS request_id,
         requester = '-' AS anonymous, requester = 'AmazonS3' AS lifecycle
  FROM requests_arrow
), f AS (
  SELECT idx, variant,
    $owner || ' photos-prod ' || strftime(make_timestamp(ts_ms * 1000), '[%d/%b/%Y:%H:%M:%S +0000]') || ' '
    || coalesce(ip, '-') || ' ' || requester || ' ' || request_id || ' ' || op || ' '
    || CASE WHEN key IS NULL THEN '-'
            WHEN op IN ('BATCH.DELETE.OBJECT', 'S3.EXPIRE.OBJECT') THEN key_form
            ELSE replace(key_uri, '%', '%25') END || ' '
    || CASE WHEN op = 'BATCH.DELETE.OBJECT' THEN '-'
            WHEN lifecycle THEN '"-"'
            ELSE '"' || CASE op WHEN 'REST.PUT.OBJECT' THEN 'PUT' WHEN 'REST.HEAD.OBJECT' THEN 'HEAD'
                               WHEN 'REST.DELETE.OBJECT' THEN 'DELETE' WHEN 'REST.POST.RESTORE' THEN 'POST'
                               WHEN 'REST.POST.UPLOADS' THEN 'POST' WHEN 'REST.PUT.PART' THEN 'PUT'
                               WHEN 'REST.DELETE.UPLOAD' THEN 'DELETE'
                               ELSE 'GET' END
                 || ' /' || CASE WHEN key IS NULL THEN '?list-type=2&prefix=users%2F' || uid || '%2F&max-keys=1000'
                                 ELSE key_uri END
                 || CASE WHEN uri_query IS NOT NULL THEN '?' || uri_query
                         WHEN op = 'REST.POST.RESTORE' THEN '?restore'
                         WHEN query_auth AND NOT anonymous AND key IS NOT NULL THEN
                           '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAQNZGKIQY6EXAMPLE%2F'
                           || strftime(make_timestamp(ts_ms * 1000), '%Y%m%d')
                           || '%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date='
                           || strftime(make_timestamp(ts_ms * 1000 - 600000000), '%Y%m%dT%H%M%SZ')
                           || '&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=' || sha256(request_id)
                         ELSE '' END
                 || ' HTTP/1.1"' END || ' '
    || CASE WHEN status < 0 THEN '-' ELSE status::VARCHAR END || ' '
    || coalesce(error, '-') || ' '
    || CASE WHEN bytes_sent < 0 THEN '-' ELSE bytes_sent::VARCHAR END || ' '
    || CASE WHEN object_size < 0 THEN '-' ELSE object_size::VARCHAR END || ' '
    || CASE WHEN total_ms < 0 THEN '-' ELSE total_ms::VARCHAR END || ' '
    || CASE WHEN turn_ms < 0 THEN '-' ELSE turn_ms::VARCHAR END || ' '
    || '"-" "' || coalesce(user_agent, '-') || '" '
    || coalesce(version_id, '-') || ' '
    || CASE WHEN lifecycle THEN '- - - - - -'
       ELSE to_base64(unhex(md5('h' || request_id) || md5('i' || request_id) || md5('i' || request_id)
                            || left(md5('h' || request_id), 16)))
            || CASE WHEN anonymous THEN ' - ' ELSE ' SigV4 ' END
            || CASE WHEN rid % 10 < 7 THEN 'TLS_AES_128_GCM_SHA256' ELSE 'ECDHE-RSA-AES128-GCM-SHA256' END
            || CASE WHEN anonymous THEN ' - ' WHEN query_auth THEN ' QueryString ' ELSE ' AuthHeader ' END
            || $host || CASE WHEN rid % 10 < 7 THEN ' TLSv1.3' ELSE ' TLSv1.2' END END
    AS base
  FROM r
)
SELECT idx,
  base || CASE variant WHEN 24 THEN '' WHEN 25 THEN ' -'
                       ELSE ' - ' || CASE WHEN idx % 20 = 3 THEN 'Yes' ELSE '-' END || ' ' || $region END AS line
FROM f ORDER BY idx
"""


@dataclass
class LogStats:
    """What the log writer produced, for the summary and the labels."""

    lines: int
    objects: int
    duplicates: int
    malformed_by_day: dict[date, int]


def request_columns(req: Requests, pop: Population, light: bool = False) -> pa.Table:
    """Requests as Arrow columns; ``light`` skips the text columns that only the log lines need."""
    cols = {
        "ts_ms": pa.array(req.ts_ms),
        "op": pa.array(OPS[req.op]),
        "status": pa.array(req.status.astype(np.int32)),
        "bytes_sent": pa.array(req.bytes_sent),
        "object_size": pa.array(req.object_size),
        "total_ms": pa.array(req.total_ms),
        "turn_ms": pa.array(req.turn_ms),
        "requester": pa.array(REQUESTERS[req.requester]),
        "query_auth": pa.array(req.query_auth),
        "storage_class": pa.array(req.storage_class),
    }
    if not light:
        cols.update(
            uid=pa.array(np.where(req.user >= 0, pop.user_id[np.maximum(req.user, 0)], "")),
            key=pa.array(req.key, type=pa.string()),
            version_id=pa.array(req.version_id, type=pa.string()),
            error=pa.array(req.error, type=pa.string()),
            ip=pa.array(req.ip, type=pa.string()),
            user_agent=pa.array(req.user_agent, type=pa.string()),
            uri_query=pa.array(req.uri_query, type=pa.string()),
        )
    return pa.table(cols)


def finalize_requests(tables: list[pa.Table], seed: int) -> pa.Table:
    """All requests in time order with a position ``idx``, a unique 16-hex request id seed ``rid`` (an
    odd-multiplier bijection of the position) and the field-count ``variant`` of the record."""
    table = pa.concat_tables(tables)
    n = len(table)
    order = np.lexsort((np.arange(n), table.column("ts_ms").to_numpy()))
    table = table.take(pa.array(order))
    idx = np.arange(n, dtype=np.uint64)
    rid = (idx * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed * 7919 + 12345)) & np.uint64(2**64 - 1)
    draw = rng_for(seed, "log-variants").random(n)
    variant = np.where(draw < 0.03, 24, np.where(draw < 0.05, 25, 27)).astype(np.int16)
    return (
        table.append_column("idx", pa.array(np.arange(n, dtype=np.int64)))
        .append_column("rid", pa.array(rid))
        .append_column("variant", pa.array(variant))
    )


def format_lines(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """One log line per request of the registered ``requests_arrow`` table (object array, in order)."""
    out = con.sql(_LINE_SQL, params={"owner": BUCKET_OWNER, "host": HOST, "region": REGION}).to_arrow_table()
    return out.column("line").to_numpy(zero_copy_only=False)


def object_key(delivered: int, shard: int, seed: int, partitioned: bool) -> str:
    """Log object key for a delivery window and shard, in the simple or date-partitioned form."""
    stamp = delivered + (shard * 211 + delivered // DELIVERY_WINDOW * 37) % DELIVERY_WINDOW
    d = day_of(stamp)
    name = f"{d:%Y-%m-%d}-{stamp % DAY_SECONDS // 3600:02d}-{stamp % 3600 // 60:02d}-{stamp % 60:02d}"
    unique = det_hex(seed, "log-object", delivered, shard, length=16).upper()
    if partitioned:
        return f"access-logs/{ACCOUNT_ID}/{REGION}/{SOURCE_BUCKET}/{d:%Y/%m/%d}/{name}-{unique}"
    return f"access-logs/{name}-{unique}"


def write_logs(
    out_dir: Path,
    ts_ms: np.ndarray,
    start: date,
    days: int,
    seed: int,
    con: duckdb.DuckDBPyConnection,
    malformed: bool,
) -> LogStats:
    """Format the registered ``requests_arrow`` rows (``finalize_requests``; ``ts_ms`` is its time
    column), corrupt a few lines (if
    ``malformed``), assign each record (and its duplicate) to a delivery object and write them."""
    rng = rng_for(seed, "delivery")
    lines = format_lines(con)
    n = len(lines)
    req_day = ts_ms // 1000 // DAY_SECONDS
    bad_by_day: dict[date, int] = {}
    if malformed and n:
        n_bad = max(1, int(round(n * MALFORMED_RATE)))
        bad = np.sort(rng.choice(n, size=n_bad, replace=False))
        for i in bad:  # a few dozen lines at most
            line = lines[i]
            lines[i] = (
                line[: 30 + int(rng.integers(0, 80))]
                if rng.random() < 0.6
                else "\x1b[0m<html>503 " + line[-40:]
            )
            bad_day = day_of(int(req_day[i]) * DAY_SECONDS)
            bad_by_day[bad_day] = bad_by_day.get(bad_day, 0) + 1
    delay = rng.integers(300, 3 * 3600, n)
    dup = np.flatnonzero(rng.random(n) < DUPLICATE_RATE)
    record = np.concatenate([np.arange(n), dup])
    when = np.concatenate(
        [ts_ms // 1000 + delay, ts_ms[dup] // 1000 + delay[dup] + rng.integers(900, 7200, len(dup))]
    )
    window = when // DELIVERY_WINDOW * DELIVERY_WINDOW
    shard = rng.integers(0, 2, len(record))
    order = np.lexsort((record, shard, window))
    record, window, shard = record[order], window[order], shard[order]
    cut = np.flatnonzero(np.r_[True, (window[1:] != window[:-1]) | (shard[1:] != shard[:-1]), True])
    midpoint = epoch(start + timedelta(days=days // 2))
    for a, b in zip(cut[:-1], cut[1:], strict=True):  # one iteration per log object
        key = object_key(int(window[a]), int(shard[a]), seed, partitioned=int(window[a]) >= midpoint)
        path = out_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines[record[a:b]]) + "\n", encoding="utf-8")
    return LogStats(lines=len(record), objects=len(cut) - 1, duplicates=len(dup), malformed_by_day=bad_by_day)
