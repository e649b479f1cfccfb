"""Access logs of any size for the parsing benchmark, written by one DuckDB query per log object.

Why not ``synthetic``: that generator simulates a whole service (population, catalog,
traffic) and keeps every line in Python memory; the benchmark needs 1 M to 50 M lines in seconds, with
the same *shape* the parser meets in production, not a believable story. Every line here is a real
S3 server access-log record, and the mix exercises each path of the parser: REST keys URL-encoded
twice (some with spaces and non-ASCII), ``BATCH.DELETE.OBJECT`` with an unquoted ``-`` request-URI,
referrer and user agent (as AWS writes them) and a form-encoded key, lifecycle records full of ``-``, 24-, 25- and 27-field records, user agents with
escaped quotes (the regex path), records of the neighbouring days (delivered late), repeated
deliveries (dedupe) and a few broken lines (quarantine).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

LINES_PER_OBJECT = 250_000
USERS = 100_000
DUPLICATE_EVERY = 200  # 0.5 % of records are delivered twice
MALFORMED_EVERY = 5_000  # 0.02 % of lines are broken
ESCAPED_QUOTE_EVERY = 1_000  # 0.1 % of user agents carry escaped quotes

# One record per $n-range position; $first/$last select the log object's slice. Values are derived
# from a hash of the position, so any slice is reproducible on its own.
_LINES_SQL = r"""
WITH ids AS (
    SELECT i, hash(i) AS h FROM range($first, $last) t(i)
), records AS (
    SELECT i, h,
           make_timestamp($day_us + (i * 86400000000 // $n)
                          + CASE WHEN h % 50 = 1 THEN -3600000000 WHEN h % 50 = 2 THEN 86400000000
                                 ELSE 0 END) AS ts,
           CASE WHEN h % 100 < 62 THEN 'REST.GET.OBJECT' WHEN h % 100 < 77 THEN 'REST.PUT.OBJECT'
                WHEN h % 100 < 87 THEN 'REST.HEAD.OBJECT' WHEN h % 100 < 91 THEN 'REST.DELETE.OBJECT'
                WHEN h % 100 < 95 THEN 'REST.GET.BUCKET' WHEN h % 100 < 98 THEN 'BATCH.DELETE.OBJECT'
                ELSE 'S3.EXPIRE.OBJECT' END AS op,
           $first_user + h // 7 % $users AS uid,
           'users/' || uid || '/photos/'
               || CASE h // 13 % 10 WHEN 0 THEN 'my photo ' WHEN 1 THEN 'café_' ELSE 'IMG_' END
               || (h // 101 % 100000) || '.jpg' AS key,
           lpad(upper(to_hex(h // 3)), 16, '0') AS request_id,
           CASE WHEN h // 17 % 20 = 0 THEN 404 WHEN h // 17 % 50 = 1 THEN 403 ELSE 200 END AS status,
           h // 19 % 5000000 AS size
    FROM ids
), fields AS (
    SELECT i, h, ts, op, status, request_id, size, uid,
           CASE WHEN op = 'S3.EXPIRE.OBJECT' THEN 'AmazonS3'
                ELSE 'arn:aws:iam::123456789012:user/app' END AS requester,
           CASE WHEN op = 'REST.GET.BUCKET' THEN '-'
                WHEN op IN ('BATCH.DELETE.OBJECT', 'S3.EXPIRE.OBJECT') THEN replace(url_encode(key), '%20', '+')
                ELSE replace(replace(url_encode(key), '%2F', '/'), '%', '%25') END AS key_field,
           strftime(ts, '[%d/%b/%Y:%H:%M:%S +0000]') AS time_field,
           CASE WHEN op = 'BATCH.DELETE.OBJECT' THEN '-' WHEN op = 'S3.EXPIRE.OBJECT' THEN '"-"'
                ELSE '"' || split_part(op, '.', 2) || ' /photos-prod/' || replace(url_encode(key), '%2F', '/')
                     || ' HTTP/1.1"' END AS uri,
           CASE WHEN i % $escaped_every = 5 THEN '"Mozilla/5.0 (\"quoted\") Photos/2.1"'
                ELSE '"Photos/2.' || (uid % 9) || ' (iPhone; iOS 17.' || ((uid // 9 + h // 23 % 2) % 6)
                     || ')"' END AS ua  -- a user's app on 1-2 OS versions
    FROM records
), lines AS (
    SELECT i, h, ts, op, status, size, requester,
           '79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be photos-prod ' || time_field
           || ' ' || CASE WHEN op = 'S3.EXPIRE.OBJECT' THEN '-' ELSE '198.51.' || (uid % 256) || '.'  -- a user's 1-3 devices
                                                             || ((uid // 256 + h // 29 % 3) % 256) END
           || ' ' || requester || ' ' || request_id || ' ' || op || ' ' || key_field || ' ' || uri
           || ' ' || CASE WHEN op = 'S3.EXPIRE.OBJECT' THEN '-' ELSE status::VARCHAR END
           || ' ' || CASE status WHEN 404 THEN 'NoSuchKey' WHEN 403 THEN 'AccessDenied' ELSE '-' END
           || ' ' || CASE WHEN op = 'REST.GET.OBJECT' AND status = 200 THEN size::VARCHAR ELSE '-' END
           || ' ' || CASE WHEN op IN ('REST.GET.OBJECT', 'REST.PUT.OBJECT', 'REST.HEAD.OBJECT')
                          THEN size::VARCHAR ELSE '-' END
           || ' ' || (h // 37 % 900 + 4) || ' ' || (h // 41 % 60 + 1)
           || CASE WHEN op = 'BATCH.DELETE.OBJECT' THEN ' - -' ELSE ' "-" ' || ua END
           || CASE WHEN op = 'S3.EXPIRE.OBJECT' THEN ' - - - - - - - - - -'
                   ELSE ' - ' || to_base64(unhex(md5(request_id))) || ' SigV4 TLS_AES_128_GCM_SHA256 '
                        || 'AuthHeader photos-prod.s3.us-east-1.amazonaws.com TLSv1.3'
                        || CASE WHEN h // 43 % 20 = 0 THEN ''
                                WHEN h // 43 % 20 = 1 THEN ' -'
                                ELSE ' - - us-east-1' END END AS line
    FROM fields
)
SELECT CASE WHEN i % $malformed_every = 11 THEN left(line, 60) ELSE line END AS line,
       false AS repeated, h, ts, op, status, size, requester
FROM lines
UNION ALL  -- a repeated delivery of some records, as S3 does on a best-effort basis
SELECT line, true, h, ts, op, status, size, requester
FROM lines WHERE i % $duplicate_every = 7 AND i % $malformed_every <> 11
"""

# The requests behind the lines (repeated deliveries once), in the columns the source generator's
# CloudWatch and CUR writers read (``requests_arrow``), so a daily-run benchmark's metrics and bill
# describe exactly the traffic its logs record.
_TRUTH_SQL = """
SELECT epoch_ms(ts) AS ts_ms, op, requester,
       CASE WHEN op = 'S3.EXPIRE.OBJECT' THEN NULL ELSE status END AS status,
       CASE WHEN op = 'REST.GET.OBJECT' AND status = 200 THEN size END AS bytes_sent,
       CASE WHEN op IN ('REST.GET.OBJECT', 'REST.PUT.OBJECT', 'REST.HEAD.OBJECT') THEN size END AS object_size,
       h // 41 % 60 + 1 AS turn_ms, h // 37 % 900 + 4 AS total_ms, 0 AS storage_class
FROM slice WHERE NOT repeated
"""


@dataclass(frozen=True)
class GeneratedLogs:
    """Where the log objects are and what they hold."""

    day: date
    files: list[tuple[str, str]]  # (object key under the source root, local path)
    lines: int  # lines written, repeated deliveries included
    records: int  # distinct records
    malformed: int
    bytes: int
    requests: pa.Table | None = None  # with ``keep_requests``: one row per distinct record


def object_key(day: date, index: int) -> str:
    """A simple-format log object key, delivered on ``day`` (the parser's delivery-time convention)."""
    stamp = datetime(day.year, day.month, day.day) + timedelta(seconds=index * 60)
    return f"access-logs/{stamp:%Y-%m-%d-%H-%M-%S}-{index:016X}"


def generate_access_logs(
    root: Path,
    day: date,
    records: int,
    lines_per_object: int = LINES_PER_OBJECT,
    users: int = USERS,
    first_user: int = 0,
    keep_requests: bool = False,
) -> GeneratedLogs:
    """Write ``records`` records (plus their repeated deliveries) as log objects under ``root``; keys
    belong to users ``first_user .. first_user + users - 1``. With ``keep_requests`` the records are
    also returned as a table (see ``_TRUTH_SQL``)."""
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    files: list[tuple[str, str]] = []
    truth: list[pa.Table] = []
    lines = 0
    day_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    try:
        for index, first in enumerate(range(0, records, lines_per_object)):
            key = object_key(day, index)
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            params = {
                "first": first,
                "last": min(first + lines_per_object, records),
                "n": records,
                "day_us": day_us,
                "users": users,
                "first_user": first_user,
                "escaped_every": ESCAPED_QUOTE_EVERY,
                "malformed_every": MALFORMED_EVERY,
                "duplicate_every": DUPLICATE_EVERY,
            }
            con.execute(f"CREATE OR REPLACE TEMP TABLE slice AS {_LINES_SQL}", params)
            con.execute(
                f"COPY (SELECT line FROM slice) TO '{path}' "
                "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')"
            )
            lines += con.execute("SELECT count(*) FROM slice").fetchall()[0][0]
            files.append((key, str(path)))
            if keep_requests:
                truth.append(con.sql(_TRUTH_SQL).to_arrow_table())
    finally:
        con.close()
    malformed = len(range(11, records, MALFORMED_EVERY))
    return GeneratedLogs(
        day=day,
        files=files,
        lines=lines,
        records=records,
        malformed=malformed,
        bytes=sum(Path(p).stat().st_size for _, p in files),
        requests=pa.concat_tables(truth) if keep_requests else None,
    )
