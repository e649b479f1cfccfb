"""S3 server access logs parse exactly as formats.md says, in DuckDB, without losing a line."""

from __future__ import annotations

import datetime
import re
import shutil
from pathlib import Path

import pytest

from bucketlens.formats import access_log_reader, access_log_schema
from bucketlens.formats.access_log import (
    ACCESS_LOG_REGEX,
    COLUMNS,
    QUARANTINE_DDL,
    TABLE_DDL,
    stage_access_log_records,
    stage_access_logs,
)
from bucketlens.formats.access_log_dedupe import stage_first_seen
from bucketlens.keys import KeyPattern

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "aws"  # AWS's documented examples, as published
DAY = datetime.date(2019, 2, 6)
DEFAULT_PATTERN = KeyPattern()
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
TAIL_27 = "- HOSTID= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader b.s3.us-east-1.amazonaws.com TLSv1.3 - - us-east-1"


def line(
    op: str = "REST.GET.OBJECT",
    key: str = "users/1001/a.jpg",
    *,
    when: str = "06/Feb/2019:12:00:00 +0000",
    request_id: str = "REQ1",
    uri: str | None = '"GET /b/x HTTP/1.1"',
    status: str = "200",
    ip: str = "192.0.2.3",
    ua: str = '"aws-cli/2.0"',
    tail: str = " " + TAIL_27,
) -> str:
    return (
        f"{OWNER} b [{when}] {ip} arn:aws:iam::123456789012:user/app {request_id} {op} {key} "
        f'{uri} {status} - 100 200 10 5 "-" {ua}{tail}'
    )


def stage(con, tmp_path, files: dict[str, list[str] | str], day=DAY, pattern=DEFAULT_PATTERN):
    pairs = []
    for name, content in files.items():
        path = tmp_path / name.replace("/", "_")
        path.write_text(content if isinstance(content, str) else "\n".join(content) + "\n", encoding="utf-8")
        pairs.append((f"access-logs/{name}", str(path)))
    return stage_access_logs(con, pairs, day, pattern)


def rows(con, columns: str = "*", where: str = "TRUE"):
    return con.execute(
        f"SELECT {columns} FROM stage_access_log_requests WHERE {where} ORDER BY source_file, source_line"
    ).fetchall()


def one(con, columns: str, where: str = "TRUE"):
    result = rows(con, columns, where)
    assert len(result) == 1, result
    return result[0]


# --- AWS's own examples ------------------------------------------------------------------------


def test_every_aws_example_record_parses_with_its_fields(con, tmp_path):
    files = [
        ("access-logs/doc.log", str(EXAMPLES / "access-log-aws-doc-examples.log")),
        ("access-logs/doc27.log", str(EXAMPLES / "access-log-aws-doc-examples-27-fields.log")),
    ]
    load = stage_access_logs(con, files, DAY, KeyPattern())
    # 5 + 2 records; the 27-field file repeats two request IDs of the first file (same op, no key)
    assert (load.files, load.lines, load.parsed, load.quarantined) == (2, 7, 7, 0)
    assert (load.duplicates, load.outside_day, load.rows) == (2, 0, 5)
    assert con.execute("SELECT count(*) FROM stage_access_log_quarantine").fetchall() == [(0,)]

    put = one(
        con,
        "request_time, bucket, remote_ip, requester, request_id, key, request_uri, http_status, error_code, "
        "bytes_sent, object_size, total_time_ms, turn_around_time_ms, referrer, user_agent, version_id, "
        "signature_version, cipher_suite, auth_type, host_header, tls_version, access_point_arn, "
        "acl_required, user_id, source_file, source_line, usage_date",
        "operation = 'REST.PUT.OBJECT'",
    )
    assert put == (
        datetime.datetime(2019, 2, 6, 0, 1, 57),
        "DOC-EXAMPLE-BUCKET1",
        "192.0.2.3",
        OWNER,
        "DD6CC733AEXAMPLE",
        "s3-dg.pdf",
        "PUT /DOC-EXAMPLE-BUCKET1/s3-dg.pdf HTTP/1.1",
        200,
        None,
        None,
        4406583,
        41754,
        28,
        None,
        "S3Console/0.4",
        None,
        "SigV4",
        "ECDHE-RSA-AES128-SHA",
        "AuthHeader",
        "DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com",
        "TLSV1.2",
        None,
        "Yes",
        "_shared",
        "access-logs/doc.log",
        5,
        DAY,
    )
    policy = one(
        con,
        "http_status, error_code, bytes_sent, object_size, total_time_ms, turn_around_time_ms, key, acl_required",
        "request_id = 'A1206F460EXAMPLE'",
    )
    assert policy == (404, "NoSuchBucketPolicy", 297, None, 38, None, None, "Yes")
    versioning = one(
        con,
        "access_point_arn, acl_required, host_id, source_file, source_line",
        "request_id = '3E57427F3EXAMPLE'",
    )
    assert versioning == (
        "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP",
        "Yes",
        "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234=",
        "access-logs/doc.log",  # the first of the two copies is kept
        1,
    )
    assert rows(
        con, "request_id, bytes_sent, total_time_ms", "request_id IN ('891CE47D2EXAMPLE', '7B4A0FABBEXAMPLE')"
    ) == [
        ("891CE47D2EXAMPLE", 242, 11),
        ("7B4A0FABBEXAMPLE", 113, 33),
    ]


def test_27_field_records_keep_every_field(con, tmp_path):
    path = tmp_path / "doc27.log"
    shutil.copy(EXAMPLES / "access-log-aws-doc-examples-27-fields.log", path)
    load = stage_access_logs(con, [("access-logs/doc27.log", str(path))], DAY, KeyPattern())
    assert (load.parsed, load.rows, load.quarantined) == (2, 2, 0)
    assert rows(
        con, "bucket, operation, http_status, tls_version, access_point_arn, acl_required, host_header"
    ) == [
        (
            "amzn-s3-demo-bucket1",
            "REST.GET.VERSIONING",
            200,
            "TLSV1.2",
            "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP",
            "Yes",
            "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com",
        ),
        (
            "amzn-s3-demo-bucket1",
            "REST.GET.LOGGING_STATUS",
            200,
            "TLSV1.2",
            None,
            None,
            "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com",
        ),
    ]


def test_stage_table_has_exactly_the_warehouse_columns(con, tmp_path):
    con.execute("CREATE SCHEMA raw")
    con.execute(TABLE_DDL)
    con.execute(QUARANTINE_DDL)
    stage(con, tmp_path, {"a.log": [line()]})
    describe = 'SELECT column_name, column_type, "null" FROM (DESCRIBE {})'
    assert (
        con.execute(describe.format("stage_access_log_requests")).fetchall()
        == con.execute(describe.format("raw.access_log_requests")).fetchall()
    )
    names = [name for name, _ in COLUMNS]
    assert names[:14] == [
        "request_time",
        "bucket",
        "remote_ip",
        "requester",
        "request_id",
        "operation",
        "key",
        "http_status",
        "error_code",
        "bytes_sent",
        "object_size",
        "total_time_ms",
        "user_agent",
        "user_id",
    ]
    assert names[-1] == "usage_date"
    con.execute("INSERT INTO raw.access_log_requests SELECT * FROM stage_access_log_requests")
    assert con.execute("SELECT count(*) FROM raw.access_log_requests").fetchall() == [(1,)]


# --- optional and extra trailing fields ---------------------------------------------------------


def test_shorter_and_longer_records_keep_their_fields(con, tmp_path):
    load = stage(
        con,
        tmp_path,
        {
            "a.log": [
                line(request_id="F18", tail=" 3HL4kqtJvjVBH40Nrjfkd"),  # 18 fields: version ID only
                line(
                    request_id="F24",
                    tail=" - HOSTID= SigV4 ECDHE-RSA-AES128-SHA AuthHeader b.s3.amazonaws.com TLSv1.2",
                ),
                line(request_id="F17", tail=""),  # stops after the user agent
                line(request_id="F29", tail=" " + TAIL_27 + " future-28 future-29"),
                line(
                    request_id="F24S",
                    tail=" - HOSTID= SigV4 ECDHE-RSA-AES128-SHA AuthHeader b.s3.amazonaws.com TLSv1.2 ",
                ),
            ]
        },
    )
    assert (load.parsed, load.quarantined) == (5, 0)
    cols = "request_id, version_id, host_id, signature_version, cipher_suite, auth_type, host_header, tls_version, access_point_arn, acl_required, user_agent"
    assert rows(con, cols) == [
        ("F18", "3HL4kqtJvjVBH40Nrjfkd", None, None, None, None, None, None, None, None, "aws-cli/2.0"),
        (
            "F24",
            None,
            "HOSTID=",
            "SigV4",
            "ECDHE-RSA-AES128-SHA",
            "AuthHeader",
            "b.s3.amazonaws.com",
            "TLSv1.2",
            None,
            None,
            "aws-cli/2.0",
        ),
        ("F17", None, None, None, None, None, None, None, None, None, "aws-cli/2.0"),
        (
            "F29",
            None,
            "HOSTID=",
            "SigV4",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "AuthHeader",
            "b.s3.us-east-1.amazonaws.com",
            "TLSv1.3",
            None,
            None,
            "aws-cli/2.0",
        ),
        (
            "F24S",
            None,
            "HOSTID=",
            "SigV4",
            "ECDHE-RSA-AES128-SHA",
            "AuthHeader",
            "b.s3.amazonaws.com",
            "TLSv1.2",
            None,
            None,
            "aws-cli/2.0",
        ),
    ]


# --- operation quirks ---------------------------------------------------------------------------


def test_batch_delete_with_unquoted_dash_uri_and_lifecycle_with_dash_status(con, tmp_path):
    stage(
        con,
        tmp_path,
        {
            "a.log": [
                line(
                    "BATCH.DELETE.OBJECT", "users/1001/old+photo.jpg", request_id="B1", uri="-", status="204"
                ),
                line(
                    "S3.EXPIRE.OBJECT",
                    "users/1002/expired.jpg",
                    request_id="E1",
                    uri='"-"',
                    status="-",
                    ip="-",
                ),
                line(
                    "S3.TRANSITION_SIA.OBJECT",
                    "users/1003/cold.jpg",
                    request_id="T1",
                    uri='"-"',
                    status="-",
                    ip="-",
                ),
            ]
        },
    )
    assert rows(con, "operation, key, request_uri, http_status, remote_ip, user_id") == [
        ("BATCH.DELETE.OBJECT", "users/1001/old photo.jpg", None, 204, "192.0.2.3", "1001"),
        ("S3.EXPIRE.OBJECT", "users/1002/expired.jpg", None, None, None, "1002"),
        ("S3.TRANSITION_SIA.OBJECT", "users/1003/cold.jpg", None, None, None, "1003"),
    ]


def test_delete_objects_request_keeps_every_batch_delete_record(con, tmp_path):
    """Issue 14, defect 8: a DeleteObjects request is logged as one REST.POST.MULTI_OBJECT_DELETE line
    and one BATCH.DELETE.OBJECT line per key, all with the same request ID; AWS writes the batch lines
    with an unquoted '-' request-URI, referrer and user agent, and form-encodes their keys once ('+'
    for a space). The old grammar required a quoted referrer and user agent, so every batch line was
    quarantined and the deletions (and the early-delete fees they drive) vanished."""
    prefix = f"{OWNER} photos-prod [06/Feb/2019:09:14:02 +0000] 192.0.2.3 arn:aws:iam::123456789012:user/app 7D3F9A2C41E0B85A"
    tail = " - 3jN0ZfLxgq8aVq1Hh4EXAMPLE= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader photos-prod.s3.us-east-1.amazonaws.com TLSv1.2 - -"
    lines = [
        f'{prefix} REST.POST.MULTI_OBJECT_DELETE - "POST /photos-prod?delete HTTP/1.1" 200 - 412 - 58 21 "-" '
        f'"aws-sdk-java/2.25.1 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.9"{tail}',
        f"{prefix} BATCH.DELETE.OBJECT users/1001/old+photo+(1).jpg - 204 - - 2483027 - - - -{tail}",
        f"{prefix} BATCH.DELETE.OBJECT users/1001/caf%C3%A9+menu.jpg - 204 - - 918244 - - - -{tail}",
        f"{prefix} BATCH.DELETE.OBJECT users/1002/100%25+done.png - 204 - - 44120 - - - -{tail}",
        f"{prefix} BATCH.DELETE.OBJECT users/1002/gone.jpg - 204 NoSuchKey - - - - - -{tail}",
    ]
    load = stage(con, tmp_path, {"2019-02-06-09-20-11-ABCD": lines})
    # five lines, five records: one per (request ID, operation, key), none quarantined or deduplicated
    assert (load.lines, load.parsed, load.quarantined, load.duplicates, load.rows) == (5, 5, 0, 0, 5)
    assert con.execute("SELECT count(*) FROM stage_access_log_quarantine").fetchall() == [(0,)]
    assert rows(
        con, "source_line, request_id, operation, key, user_id, http_status, object_size, request_uri, referrer, "
        "user_agent, host_id, tls_version"
    ) == [
        (1, "7D3F9A2C41E0B85A", "REST.POST.MULTI_OBJECT_DELETE", None, "_shared", 200, None,
         "POST /photos-prod?delete HTTP/1.1", None,
         "aws-sdk-java/2.25.1 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.9", "3jN0ZfLxgq8aVq1Hh4EXAMPLE=", "TLSv1.2"),
        (2, "7D3F9A2C41E0B85A", "BATCH.DELETE.OBJECT", "users/1001/old photo (1).jpg", "1001", 204, 2483027,
         None, None, None, "3jN0ZfLxgq8aVq1Hh4EXAMPLE=", "TLSv1.2"),
        (3, "7D3F9A2C41E0B85A", "BATCH.DELETE.OBJECT", "users/1001/café menu.jpg", "1001", 204, 918244,
         None, None, None, "3jN0ZfLxgq8aVq1Hh4EXAMPLE=", "TLSv1.2"),
        (4, "7D3F9A2C41E0B85A", "BATCH.DELETE.OBJECT", "users/1002/100% done.png", "1002", 204, 44120,
         None, None, None, "3jN0ZfLxgq8aVq1Hh4EXAMPLE=", "TLSv1.2"),
        (5, "7D3F9A2C41E0B85A", "BATCH.DELETE.OBJECT", "users/1002/gone.jpg", "1002", 204, None,
         None, None, None, "3jN0ZfLxgq8aVq1Hh4EXAMPLE=", "TLSv1.2"),
    ]  # fmt: skip
    # the ledger's path (records of the object, then the day's first-seen rows) keeps all five too
    files = [("access-logs/2019-02-06-09-20-11-ABCD", str(tmp_path / "2019-02-06-09-20-11-ABCD"))]
    stage_access_log_records(con, files, DEFAULT_PATTERN, "records", "records_quarantine")
    assert stage_first_seen(con, "records", "first_seen", DAY, [files[0][0]]) == (5, 5)


def test_lifecycle_expiry_with_unquoted_dashes_is_a_record(con, tmp_path):
    """S3.EXPIRE.OBJECT records carry '-' for the status and remote IP; written with every quoted
    field as an unquoted '-' too, they are still records (same grammar as defect 8's batch lines)."""
    expire = (
        f"{OWNER} photos-prod [06/Feb/2019:03:00:12 +0000] - AmazonS3 1B8C2D3E4F5A6B7C S3.EXPIRE.OBJECT "
        "users/1003/old+video.mov - - - - 73400320 - - - - - - - - - - - - - -"
    )
    load = stage(con, tmp_path, {"a.log": [expire]})
    assert (load.parsed, load.quarantined) == (1, 0)
    assert rows(
        con, "operation, key, user_id, remote_ip, http_status, object_size, requester, user_agent"
    ) == [("S3.EXPIRE.OBJECT", "users/1003/old video.mov", "1003", None, None, 73400320, "AmazonS3", None)]


@pytest.mark.parametrize(
    ("op", "field", "decoded"),
    [
        ("REST.PUT.OBJECT", "users/1001/my%2520photo.jpg", "users/1001/my photo.jpg"),  # space, twice
        ("REST.PUT.OBJECT", "users/1001/a%252Bb.jpg", "users/1001/a+b.jpg"),  # '+', twice
        ("REST.PUT.OBJECT", "users/1001/a+b.jpg", "users/1001/a+b.jpg"),  # a literal '+' stays '+'
        ("REST.GET.OBJECT", "users/1001/100%2525.jpg", "users/1001/100%.jpg"),  # '%', twice
        ("REST.GET.OBJECT", "users/1001/caf%25C3%25A9.jpg", "users/1001/café.jpg"),  # é, twice
        ("BATCH.DELETE.OBJECT", "users/1001/100%25.jpg", "users/1001/100%.jpg"),  # '%', once
        ("BATCH.DELETE.OBJECT", "users/1001/my+photo.jpg", "users/1001/my photo.jpg"),  # form space
        ("BATCH.DELETE.OBJECT", "users/1001/a%2Bb.jpg", "users/1001/a+b.jpg"),  # form '+'
        ("S3.EXPIRE.OBJECT", "users/1001/caf%C3%A9+1.jpg", "users/1001/café 1.jpg"),
    ],
)
def test_keys_are_decoded_as_often_as_they_were_encoded(con, tmp_path, op, field, decoded):
    uri = "-" if op.startswith("BATCH") else '"GET /b/x HTTP/1.1"'
    stage(con, tmp_path, {"a.log": [line(op, field, uri=uri)]})
    assert rows(con, "key, user_id") == [(decoded, "1001")]


@pytest.mark.parametrize(
    ("field", "user_id"),
    [
        ("users/../x", "_shared"),
        ("users/1006/../1001/x", "1006"),
        ("users/1001%25252F..%25252F1002/x", "_shared"),  # decodes to a literal "users/1001%2F..%2F1002/x"
        ("users/1001%252F..%252F1002/x", "1001"),  # decodes to "users/1001/../1002/x": 1001's
        ("users/1001/x", "1001"),
        ("Users/1001/x", "_shared"),
        ("-", "_shared"),
    ],
)
def test_key_pattern_attacks_do_not_change_the_owner(con, tmp_path, field, user_id):
    stage(con, tmp_path, {"a.log": [line("REST.GET.OBJECT", field)]})
    assert rows(con, "user_id") == [(user_id,)]


def test_custom_key_pattern(con, tmp_path):
    stage(
        con,
        tmp_path,
        {"a.log": [line(key="tenants/acme/docs/x.pdf")]},
        pattern=KeyPattern("tenants/{user_id}/docs/"),
    )
    assert rows(con, "user_id") == [("acme",)]


# --- attacker-controlled text -------------------------------------------------------------------


def test_user_agent_with_escaped_quotes_and_spaces(con, tmp_path):
    stage(
        con,
        tmp_path,
        {
            "a.log": [
                line(request_id="U1", ua=r'"Mozilla/5.0 (X11) \"quoted\" it' 's; DROP TABLE users; --"'),
                line(request_id="U2", uri=r'"GET /b/x?q=\"a b\" HTTP/1.1"', ua='"a \\"b\\" c"'),
            ]
        },
    )
    assert rows(con, "request_id, request_uri, user_agent, tls_version") == [
        ("U1", "GET /b/x HTTP/1.1", 'Mozilla/5.0 (X11) "quoted" its; DROP TABLE users; --', "TLSv1.3"),
        ("U2", 'GET /b/x?q="a b" HTTP/1.1', 'a "b" c', "TLSv1.3"),
    ]


# --- delivery: duplicates and late records ------------------------------------------------------


def test_duplicate_records_across_files_are_kept_once(con, tmp_path):
    a = [line(request_id="R1"), line(request_id="R2"), line(request_id="R3", op="REST.HEAD.OBJECT")]
    b = [line(request_id="R1"), line(request_id="R2"), line(request_id="R2", key="users/1001/other.jpg")]
    load = stage(con, tmp_path, {"a.log": a, "b.log": b})
    assert (load.lines, load.parsed, load.duplicates, load.rows) == (6, 6, 2, 4)
    assert rows(con, "request_id, key, source_file, source_line") == [
        ("R1", "users/1001/a.jpg", "access-logs/a.log", 1),
        ("R2", "users/1001/a.jpg", "access-logs/a.log", 2),
        ("R3", "users/1001/a.jpg", "access-logs/a.log", 3),
        ("R2", "users/1001/other.jpg", "access-logs/b.log", 3),
    ]


def test_records_of_other_days_are_excluded_and_counted(con, tmp_path):
    load = stage(
        con,
        tmp_path,
        {
            "2019-02-06-23-59-59-A": [
                line(request_id="D0", when="05/Feb/2019:23:59:59 +0000"),
                line(request_id="D1"),
            ],
            "2019-02-07-00-10-00-B": [
                line(request_id="D2", when="06/Feb/2019:23:58:00 +0000"),
                line(request_id="D3", when="07/Feb/2019:00:00:00 +0000"),
            ],
        },
    )
    assert (load.parsed, load.outside_day, load.rows, load.quarantined) == (4, 2, 2, 0)
    assert rows(con, "request_id, usage_date") == [("D1", DAY), ("D2", DAY)]


def test_timezone_offsets_are_converted_to_utc(con, tmp_path):
    load = stage(
        con,
        tmp_path,
        {
            "a.log": [
                line(request_id="Z1", when="07/Feb/2019:00:30:00 +0100"),  # 2019-02-06 23:30 UTC
                line(request_id="Z2", when="06/Feb/2019:00:30:00 +0100"),  # 2019-02-05 23:30 UTC
                line(request_id="Z3", when="05/Feb/2019:20:00:00 -0500"),  # 2019-02-06 01:00 UTC
            ]
        },
    )
    assert rows(con, "request_id, request_time") == [
        ("Z1", datetime.datetime(2019, 2, 6, 23, 30)),
        ("Z3", datetime.datetime(2019, 2, 6, 1, 0)),
    ]
    assert load.outside_day == 1


# --- malformed input ----------------------------------------------------------------------------


def test_malformed_lines_are_quarantined_with_file_and_line_and_the_rest_loads(con, tmp_path):
    good = line(request_id="G1")
    long_garbage = "x" * 5000
    load = stage(
        con,
        tmp_path,
        {
            "a.log": [good, "", "this is not an access log line", line(request_id="G2"), "   "],
            "b.log": "\r\n".join(
                [
                    line(request_id="G3"),
                    line(request_id="BADTIME", when="31/Foo/2019:00:00:00 +0000"),
                    line(request_id="BADNUM", status="2OO"),
                    long_garbage,
                    line(request_id="BADQUOTE", ua='"unterminated'),
                    line(request_id="BADKEY", key="users/1001/%25FF.jpg"),
                ]
            )
            + "\r\n",
        },
    )
    assert (load.files, load.lines, load.parsed, load.quarantined, load.rows) == (
        2,
        9,
        3,
        6,
        3,
    )  # 9 non-blank lines
    assert rows(con, "request_id, source_file, source_line") == [
        ("G1", "access-logs/a.log", 1),
        ("G2", "access-logs/a.log", 4),
        ("G3", "access-logs/b.log", 1),
    ]
    quarantined = con.execute(
        "SELECT file, line_number, length(raw_text), reason FROM stage_access_log_quarantine ORDER BY file, line_number"
    ).fetchall()
    assert quarantined == [
        ("access-logs/a.log", 3, 30, "line does not match the S3 server access-log format"),
        (
            "access-logs/b.log",
            2,
            len(line(when="31/Foo/2019:00:00:00 +0000", request_id="BADTIME")),
            "unparsable timestamp",
        ),
        ("access-logs/b.log", 3, len(line(request_id="BADNUM")), "unparsable number in http_status"),
        ("access-logs/b.log", 4, 2000, "line does not match the S3 server access-log format"),
        (
            "access-logs/b.log",
            5,
            len(line(request_id="BADQUOTE", ua='"unterminated')),
            "line does not match the S3 server access-log format",
        ),
        (
            "access-logs/b.log",
            6,
            len(line(request_id="BADKEY", key="users/1001/%25FF.jpg")),
            "undecodable key (invalid URL encoding or UTF-8)",
        ),
    ]
    raw = con.execute(
        "SELECT raw_text FROM stage_access_log_quarantine WHERE line_number = 3 AND file LIKE '%a.log'"
    )
    assert raw.fetchall() == [("this is not an access log line",)]


def test_a_file_that_is_not_utf8_loads_its_good_lines(con, tmp_path):
    path = tmp_path / "bin.log"
    path.write_bytes(
        (line(request_id="OK1") + "\n" + line(request_id="BIN", ua='"\xff"').replace("\xff", "@") + "\n")
        .encode()
        .replace(b"@", b"\xff\xfe")
    )
    load = stage_access_logs(con, [("access-logs/bin.log", str(path))], DAY, KeyPattern())
    assert (load.parsed, load.quarantined) == (1, 1)
    assert rows(con, "request_id") == [("OK1",)]
    assert con.execute("SELECT line_number, reason FROM stage_access_log_quarantine").fetchall() == [
        (2, "invalid UTF-8 text")
    ]


def test_no_files_gives_empty_tables(con):
    load = stage_access_logs(con, [], DAY, KeyPattern())
    assert (load.files, load.lines, load.rows) == (0, 0, 0)
    assert rows(con) == []


def test_missing_file_names_the_object(con, tmp_path):
    from bucketlens.formats.errors import SourceFormatError

    with pytest.raises(SourceFormatError, match="access-logs/gone.log"):
        stage_access_logs(con, [("access-logs/gone.log", str(tmp_path / "gone.log"))], DAY, KeyPattern())


# --- the fast path agrees with the grammar ------------------------------------------------------


def test_fast_path_and_regex_agree_on_accepted_lines(con, tmp_path):
    """Every line shape the split-based fast path accepts (quoted URI, unquoted '-' URI, nothing
    quoted) parses identically with the regex."""
    samples = [
        line(),
        line("BATCH.DELETE.OBJECT", uri="-"),
        line("BATCH.DELETE.OBJECT", uri="-", ua="-").replace(' "-" -', " - -"),  # nothing quoted
        line("BATCH.DELETE.OBJECT", uri="-", ua="-", tail="").replace(' "-" -', " - -"),
        line(tail=""),
        line(tail=" " + TAIL_27 + " x y"),
        line(ua=r'"a\b (c)"'),  # a backslash that escapes no quote
        *(EXAMPLES / "access-log-aws-doc-examples.log").read_text().splitlines(),
    ]
    names = [
        "owner",
        "bucket",
        "time",
        "ip",
        "requester",
        "request_id",
        "op",
        "key",
        "uri",
        "status",
        "error",
        "bytes",
        "size",
        "total",
        "turn",
        "referrer",
        "ua",
        "version",
        "host_id",
        "sig",
        "cipher",
        "auth",
        "host",
        "tls",
        "ap",
        "acl",
    ]
    # the probe can tell: a line with an escaped quote is left to the regex
    assert needs_full_grammar(con, tmp_path, line(ua=r'"a \"b\""'))
    for sample in samples:
        assert not needs_full_grammar(con, tmp_path, sample), sample
        match = re.match(ACCESS_LOG_REGEX, sample)
        assert match is not None, sample
        expected = dict(zip(names, match.groups(), strict=True))
        stage(con, tmp_path, {"a.log": [sample]})
        got = one(
            con, "bucket_owner, request_id, operation, bytes_sent, user_agent, tls_version, acl_required"
        )
        assert got[0] == expected["owner"] and got[1] == expected["request_id"] and got[2] == expected["op"]
        assert got[3] == (None if expected["bytes"] == "-" else int(expected["bytes"]))
        assert got[4] == expected["ua"]
        assert got[5] == (None if expected["tls"] in (None, "", "-") else expected["tls"])
        assert got[6] == (None if expected["acl"] in (None, "", "-") else expected["acl"])


def needs_full_grammar(con, tmp_path, text: str) -> bool:
    """Whether the split-based fast path declines ``text`` (marks it for ACCESS_LOG_REGEX)."""
    path = tmp_path / "probe.log"
    path.write_text(text + "\n", encoding="utf-8")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE probe ({access_log_schema.COLUMN_DEFS}{access_log_schema.WORK_COLUMNS})"
    )
    statement = access_log_schema.parse_statement(
        "pieces", "probe", access_log_reader.branch_lines("scan", [1]), "'u'"
    )
    con.execute(statement, {"path1": str(path), "names": ["probe.log"]})
    marked = con.execute(
        "SELECT count(*) FROM probe WHERE usage_date IS NULL AND user_id = 'needs the full grammar'"
    ).fetchall()[0][0]
    return marked == 1
