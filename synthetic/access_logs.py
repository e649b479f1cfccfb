"""S3 server access logs as AWS delivers them: space-separated records in many small log objects under
``access-logs/``, named by delivery time, delivered late, occasionally twice.

Records are formatted by a DuckDB query (no per-line Python), one delivery day of log objects at a
time, so only that day's text is ever in memory: the requests themselves are numbers and references
(``request_records.Requests``) until their lines are written. REST.* keys are URL-encoded twice
(space -> ``%2520``), BATCH.DELETE.OBJECT and S3.EXPIRE.OBJECT keys once, form-style (space -> ``+``);
the request-URI carries the key percent-encoded once. Current records have 27 fields; ~5 % are older
24- or 25-field records. Each record is delivered 5 min - 3 h after the request into a 10-minute
delivery window (so late-evening requests land in the next day's objects) and ~0.5 % are delivered
again in a later object. Log object keys use the simple form for the first half of the period and the
date-partitioned form after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from synthetic.inventory import Catalog
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
from synthetic.request_records import ERRORS, OPS, REQUESTERS, Requests, RequestTexts

BUCKET_OWNER = det_hex(0, "canonical-owner", length=64)
HOST = f"{SOURCE_BUCKET}.s3.{REGION}.amazonaws.com"
DELIVERY_WINDOW = 600
DUPLICATE_RATE = 0.005
MALFORMED_RATE = 0.0002
_OPS = pa.array(OPS)
_REQUESTERS = pa.array(REQUESTERS)
_ERRORS = pa.array(ERRORS, type=pa.string())

# Keys and their two encodings come from the catalog (``inventory.derive_strings``, same expressions);
# a 404's missing key is built here. Hashes are computed once per record (mh, mi), and each line is
# one concat() (a chain of || copies the growing line once per piece). A malformed record (``damage``
# >= 0, see ``write_logs``) is cut to that many characters, or (0) replaced by an HTML error page's
# tail, as a proxy mangling a log delivery would; lines are ASCII, so characters are bytes.
_LINE_SQL = r"""
WITH r AS (
  SELECT *,
    CASE WHEN miss > 0 THEN concat('users/', uid, '/photos/2026/01/IMG_9', miss, '.jpg') ELSE extra_key END
      AS miss_key,
    lpad(upper(to_hex(rid)), 16, '0') AS request_id,
    requester = '-' AS anonymous, requester = 'AmazonS3' AS lifecycle
  FROM log_chunk
), k AS (
  SELECT *,
    coalesce(key_form, replace(replace(url_encode(miss_key), '%2F', '/'), '%20', '+')) AS kf,
    coalesce(key_uri, replace(url_encode(miss_key), '%2F', '/')) AS ku,
    key_form IS NULL AND miss_key IS NULL AS no_key,
    md5('h' || request_id) AS mh, md5('i' || request_id) AS mi
  FROM r
), lines AS (
  SELECT damage, concat(
    $owner, ' photos-prod ', strftime(make_timestamp(ts_ms * 1000), '[%d/%b/%Y:%H:%M:%S +0000]'), ' ',
    coalesce(ip, '-'), ' ', requester, ' ', request_id, ' ', op, ' ',
    CASE WHEN no_key THEN '-'
         WHEN op IN ('BATCH.DELETE.OBJECT', 'S3.EXPIRE.OBJECT') THEN kf
         ELSE replace(ku, '%', '%25') END, ' ',
    CASE WHEN op = 'BATCH.DELETE.OBJECT' THEN '-'
         WHEN lifecycle THEN '"-"'
         ELSE concat('"', CASE op WHEN 'REST.PUT.OBJECT' THEN 'PUT' WHEN 'REST.HEAD.OBJECT' THEN 'HEAD'
                                  WHEN 'REST.DELETE.OBJECT' THEN 'DELETE' WHEN 'REST.POST.RESTORE' THEN 'POST'
                                  WHEN 'REST.POST.UPLOADS' THEN 'POST' WHEN 'REST.PUT.PART' THEN 'PUT'
                                  WHEN 'REST.DELETE.UPLOAD' THEN 'DELETE'
                                  ELSE 'GET' END,
              ' /', CASE WHEN no_key THEN concat('?list-type=2&prefix=users%2F', uid, '%2F&max-keys=1000')
                         ELSE ku END,
              CASE WHEN uri_query IS NOT NULL THEN concat('?', uri_query)
                   WHEN op = 'REST.POST.RESTORE' THEN '?restore'
                   WHEN query_auth AND NOT anonymous AND NOT no_key THEN concat(
                     '?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAQNZGKIQY6EXAMPLE%2F',
                     strftime(make_timestamp(ts_ms * 1000), '%Y%m%d'),
                     '%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=',
                     strftime(make_timestamp(ts_ms * 1000 - 600000000), '%Y%m%dT%H%M%SZ'),
                     '&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=', sha256(request_id))
                   ELSE '' END,
              ' HTTP/1.1"') END, ' ',
    CASE WHEN status < 0 THEN '-' ELSE status::VARCHAR END, ' ',
    coalesce(error, '-'), ' ',
    CASE WHEN bytes_sent < 0 THEN '-' ELSE bytes_sent::VARCHAR END, ' ',
    CASE WHEN object_size < 0 THEN '-' ELSE object_size::VARCHAR END, ' ',
    CASE WHEN total_ms < 0 THEN '-' ELSE total_ms::VARCHAR END, ' ',
    CASE WHEN turn_ms < 0 THEN '-' ELSE turn_ms::VARCHAR END, ' ',
    '"-" "', coalesce(user_agent, '-'), '" ',
    coalesce(version_id, '-'), ' ',
    CASE WHEN lifecycle THEN '- - - - - -'
         ELSE concat(to_base64(unhex(concat(mh, mi, mi, left(mh, 16)))),
                     CASE WHEN anonymous THEN ' - ' ELSE ' SigV4 ' END,
                     CASE WHEN rid % 10 < 7 THEN 'TLS_AES_128_GCM_SHA256' ELSE 'ECDHE-RSA-AES128-GCM-SHA256' END,
                     CASE WHEN anonymous THEN ' - ' WHEN query_auth THEN ' QueryString ' ELSE ' AuthHeader ' END,
                     $host, CASE WHEN rid % 10 < 7 THEN ' TLSv1.3' ELSE ' TLSv1.2' END) END,
    CASE variant WHEN 24 THEN '' WHEN 25 THEN ' -'
                 ELSE concat(' - ', CASE WHEN idx % 20 = 3 THEN 'Yes' ELSE '-' END, ' ', $region) END) AS line
FROM k
)
SELECT concat(CASE WHEN damage < 0 THEN line
                   WHEN damage = 0 THEN concat($html, right(line, 40))
                   ELSE left(line, damage) END, chr(10)) AS line
FROM lines
"""
_HTML_DAMAGE = "\x1b[0m<html>503 "


@dataclass
class LogStats:
    """What the log writer produced, for the summary and the labels."""

    lines: int
    objects: int
    duplicates: int
    malformed_by_day: dict[date, int]


def request_columns(req: Requests) -> pa.Table:
    """The requests' numbers as Arrow columns (operation and requester as dictionary-encoded text),
    which the CloudWatch and cost-export writers aggregate as ``requests_arrow``."""
    return pa.table(
        {
            "ts_ms": pa.array(req.ts_ms),
            "op": pa.DictionaryArray.from_arrays(pa.array(req.op), _OPS),
            "status": pa.array(req.status.astype(np.int32)),
            "bytes_sent": pa.array(req.bytes_sent),
            "object_size": pa.array(req.object_size),
            "total_ms": pa.array(req.total_ms),
            "turn_ms": pa.array(req.turn_ms),
            "requester": pa.DictionaryArray.from_arrays(pa.array(req.requester), _REQUESTERS),
            "query_auth": pa.array(req.query_auth),
            "storage_class": pa.array(req.storage_class),
        }
    )


@dataclass
class RequestLog:
    """Every request in time order, the order of the log's records: a record's position ``idx``
    gives its request id (``rid``, an odd-multiplier bijection of the position) and its field count
    (``variant``); its texts are looked up only when its line is written (``line_columns``)."""

    requests: Requests
    variant: np.ndarray  # int16: 24, 25 or 27 fields
    seed: int
    cat: Catalog
    pop: Population
    texts: RequestTexts
    damage: dict[int, int] = field(default_factory=dict)  # malformed records: cut length, or 0 (HTML)

    def __len__(self) -> int:
        return len(self.requests)

    def line_columns(self, records: np.ndarray) -> pa.Table:
        """The records at positions ``records`` (in that order, repeats allowed) with the text their
        lines need (keys and their encodings, version ids, IPs, user agents, user ids) taken from the
        tables the references point into, and the damage done to malformed ones."""
        r = self.requests.take(records)
        damage = np.full(len(records), -1, dtype=np.int16)
        if self.damage:
            bad = np.fromiter(self.damage, dtype=np.int64)
            hit = np.isin(records, bad)
            damage[hit] = [self.damage[int(i)] for i in records[hit]]
        idx = records.astype(np.uint64)
        rid = (idx * np.uint64(0x9E3779B97F4A7C15) + np.uint64(self.seed * 7919 + 12345)) & np.uint64(
            2**64 - 1
        )
        obj = pa.array(r.obj, mask=r.obj < 0)
        table = self.cat.table
        uid = pa.array([*self.pop.user_id, ""], type=pa.string())
        return pa.table(
            {
                "idx": pa.array(idx.astype(np.int64)),
                "rid": pa.array(rid),
                "variant": pa.array(self.variant[records]),
                "ts_ms": pa.array(r.ts_ms),
                "op": _OPS.take(pa.array(r.op)),
                "key_form": table.column("key_form").take(obj),
                "key_uri": table.column("key_uri").take(obj),
                "miss": pa.array(r.miss),
                "extra_key": self.texts.keys.arrow().take(pa.array(r.extra_key, mask=r.extra_key < 0)),
                "uri_query": self.texts.queries.arrow().take(pa.array(r.query, mask=r.query < 0)),
                "uid": uid.take(pa.array(np.where(r.user >= 0, r.user, len(uid) - 1))),
                "version_id": table.column("version_id").take(
                    pa.array(r.obj, mask=(r.obj < 0) | ~r.show_version)
                ),
                "status": pa.array(r.status.astype(np.int32)),
                "error": _ERRORS.take(pa.array(r.error)),
                "bytes_sent": pa.array(r.bytes_sent),
                "object_size": pa.array(r.object_size),
                "total_ms": pa.array(r.total_ms),
                "turn_ms": pa.array(r.turn_ms),
                "ip": self.texts.ips.arrow().take(pa.array(r.ip, mask=r.ip < 0)),
                "requester": _REQUESTERS.take(pa.array(r.requester)),
                "user_agent": self.texts.agents.arrow().take(pa.array(r.user_agent, mask=r.user_agent < 0)),
                "query_auth": pa.array(r.query_auth),
                "damage": pa.array(damage),
            }
        )


def finalize_requests(
    parts: list[Requests], seed: int, cat: Catalog, pop: Population, texts: RequestTexts
) -> RequestLog:
    """All requests in time order (ties keep the order of ``parts``) with each record's field-count
    variant drawn in that order."""
    req = Requests.concat(parts)
    n = len(req)
    order = np.lexsort((np.arange(n), req.ts_ms))
    draw = rng_for(seed, "log-variants").random(n)
    variant = np.where(draw < 0.03, 24, np.where(draw < 0.05, 25, 27)).astype(np.int16)
    return RequestLog(req.take(order), variant, seed, cat, pop, texts)


FORMAT_BATCH_ROWS = 8192


def in_batches(table: pa.Table) -> pa.Table:
    """``table`` as Arrow batches of ``FORMAT_BATCH_ROWS`` rows: DuckDB scans a registered Arrow table a
    batch per thread, so a table built as one batch is read, and its lines formatted, on one thread."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=FORMAT_BATCH_ROWS))


def format_lines(con: duckdb.DuckDBPyConnection, columns: pa.Table) -> pa.ChunkedArray:
    """One log line (ending in a newline) per row of ``columns`` (``RequestLog.line_columns``), in
    order (DuckDB keeps the scan's order without ORDER BY: preserve_insertion_order is on), on every
    thread (``in_batches``: a day's columns are built as one batch)."""
    con.register("log_chunk", in_batches(columns))
    try:
        params = {"owner": BUCKET_OWNER, "host": HOST, "region": REGION, "html": _HTML_DAMAGE}
        return con.sql(_LINE_SQL, params=params).to_arrow_table().column("line")
    finally:
        con.unregister("log_chunk")


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
    log: RequestLog,
    start: date,
    days: int,
    con: duckdb.DuckDBPyConnection,
    malformed: bool,
    delivered: Callable[[date], None] | None = None,
) -> LogStats:
    """Corrupt a few records (if ``malformed``), assign each record (and its duplicate) to a delivery
    object, and write the objects one delivery day at a time, calling ``delivered`` after each day."""
    seed = log.seed
    rng = rng_for(seed, "delivery")
    ts_ms = log.requests.ts_ms
    n = len(log)
    req_day = ts_ms // 1000 // DAY_SECONDS
    bad_by_day: dict[date, int] = {}
    log.damage = {}
    if malformed and n:
        n_bad = max(1, int(round(n * MALFORMED_RATE)))
        for i in np.sort(rng.choice(n, size=n_bad, replace=False)):
            log.damage[int(i)] = 30 + int(rng.integers(0, 80)) if rng.random() < 0.6 else 0
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
    objects = [
        (object_key(int(window[a]), int(shard[a]), seed, partitioned=int(window[a]) >= midpoint), a, b)
        for a, b in zip(cut[:-1], cut[1:], strict=True)
    ]
    day_of_object = window[cut[:-1]] // DAY_SECONDS
    bounds = np.flatnonzero(np.r_[True, day_of_object[1:] != day_of_object[:-1], True])
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1) as writer:  # writing one day's files overlaps formatting the next
        for first, last in zip(bounds[:-1], bounds[1:], strict=True):
            a, b = cut[first], cut[last]
            # Every record is in exactly one object (a repeat delivery is a second record), so a day's
            # objects are formatted from their own records, in file order.
            text = _contiguous(format_lines(con, log.line_columns(record[a:b])))
            if pending is not None:
                pending.result()
            pending = writer.submit(_write_objects, out_dir, objects[first:last], text, a)
            if delivered is not None:
                delivered(day_of(int(day_of_object[first]) * DAY_SECONDS))
        if pending is not None:
            pending.result()
    return LogStats(lines=len(record), objects=len(objects), duplicates=len(dup), malformed_by_day=bad_by_day)


def _contiguous(text: pa.ChunkedArray) -> pa.Array:
    """One array whose data buffer holds the lines back to back (64-bit offsets past 2 GiB)."""
    if text.num_chunks == 1:
        return text.chunk(0)
    try:
        return text.combine_chunks()
    except pa.ArrowInvalid:
        return text.cast(pa.large_string()).combine_chunks()


def _write_objects(out_dir: Path, objects: list[tuple[str, int, int]], text: pa.Array, base: int) -> None:
    """Write log objects whose records are ``text[a - base : b - base]`` (lines back to back), with
    plain ``os`` calls: a month is ~10,000 small files, where Python's file objects cost more than the
    bytes."""
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(text.buffers()[1], dtype=width)[text.offset : text.offset + len(text) + 1]
    data = memoryview(text.buffers()[2])
    made: set[str] = set()
    for key, a, b in objects:
        path = os.path.join(out_dir, key)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = data[offsets[a - base] : offsets[b - base]]
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
