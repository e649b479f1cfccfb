import pytest

from bucketlens.costing.operations import (
    billable,
    billable_sql,
    is_delete_operation,
    is_delete_sql,
    request_tier,
    request_tier_sql,
)
from tests.costing.tables import connect

TIER_TABLE = [
    # Tier 1: PUT, COPY, POST, LIST (incl. multipart)
    ("REST.PUT.OBJECT", "tier1"),
    ("REST.PUT.PART", "tier1"),
    ("REST.PUT.ACL", "tier1"),
    ("REST.COPY.OBJECT", "tier1"),
    ("REST.COPY.PART", "tier1"),
    ("REST.POST.UPLOADS", "tier1"),
    ("REST.POST.UPLOAD", "tier1"),
    ("REST.POST.OBJECT", "tier1"),
    ("REST.GET.BUCKET", "tier1"),
    ("REST.GET.BUCKETVERSIONS", "tier1"),
    ("REST.GET.SERVICE", "tier1"),
    ("REST.GET.UPLOADS", "tier1"),
    ("REST.GET.UPLOAD", "tier1"),
    # Tier 2: GET, HEAD, SELECT and all other requests
    ("REST.GET.OBJECT", "tier2"),
    ("REST.HEAD.OBJECT", "tier2"),
    ("REST.HEAD.BUCKET", "tier2"),
    ("REST.GET.ACL", "tier2"),
    ("REST.GET.LOCATION", "tier2"),
    ("REST.GET.OBJECT_TAGGING", "tier2"),
    ("REST.POST.SELECT_OBJECT_CONTENT", "tier2"),
    ("REST.OPTIONS.PREFLIGHT", "tier2"),
    ("WEBSITE.GET.OBJECT", "tier2"),
    ("SOMETHING.NEW", "tier2"),
    # restores and lifecycle transitions have their own prices
    ("REST.POST.RESTORE", "restore"),
    ("S3.TRANSITION.OBJECT", "lifecycle"),
    ("S3.TRANSITION_SIA.OBJECT", "lifecycle"),
    ("S3.TRANSITION_GDA.OBJECT", "lifecycle"),
    # DELETE and CANCEL are free, so is what S3 does by itself
    ("REST.DELETE.OBJECT", "free"),
    ("REST.DELETE.UPLOAD", "free"),
    ("REST.POST.MULTI_OBJECT_DELETE", "free"),
    ("BATCH.DELETE.OBJECT", "free"),
    ("S3.EXPIRE.OBJECT", "free"),
    ("S3.CREATE.DELETEMARKER", "free"),
    ("S3.RESTORE.OBJECT", "free"),
    ("-", "free"),
    (None, "free"),
    ("rest.get.object", "tier2"),
]


@pytest.mark.parametrize(("operation", "tier"), TIER_TABLE)
def test_request_tier_python(operation, tier):
    assert request_tier(operation) == tier


def test_request_tier_sql_matches_table():
    con = connect()
    con.execute("CREATE TABLE ops (op VARCHAR, expected VARCHAR)")
    con.executemany("INSERT INTO ops VALUES (?, ?)", TIER_TABLE)
    rows = con.execute(f"SELECT op, expected, {request_tier_sql('op')} FROM ops").fetchall()
    assert [(op, got) for op, expected, got in rows if got != expected] == []


BILLABLE_TABLE = [
    (200, "arn:aws:iam::123:user/a", True),
    (304, "-", True),
    (404, "-", True),
    (403, "arn:aws:iam::123:user/a", True),  # named requester: we cannot tell it is outside the account
    (403, "-", False),
    (403, None, False),
    (500, "arn:aws:iam::123:user/a", False),
    (503, "-", False),
    (None, "-", True),  # lifecycle records carry no status
]


@pytest.mark.parametrize(("status", "requester", "expected"), BILLABLE_TABLE)
def test_billable_python(status, requester, expected):
    assert billable(status, requester) is expected


def test_billable_sql_matches_table_for_int_and_text_status():
    con = connect()
    con.execute("CREATE TABLE r (status INTEGER, status_text VARCHAR, requester VARCHAR, expected BOOLEAN)")
    con.executemany(
        "INSERT INTO r VALUES (?, ?, ?, ?)",
        [(s, "-" if s is None else str(s), q, e) for s, q, e in BILLABLE_TABLE],
    )
    rows = con.execute(
        f"SELECT expected, {billable_sql('status', 'requester')}, {billable_sql('status_text', 'requester')} FROM r"
    ).fetchall()
    assert all(expected == a == b for expected, a, b in rows)


def test_delete_operations():
    ops = [
        "REST.DELETE.OBJECT",
        "BATCH.DELETE.OBJECT",
        "S3.EXPIRE.OBJECT",
        "REST.GET.OBJECT",
        "REST.DELETE.UPLOAD",
        None,
    ]
    expected = [True, True, True, False, False, False]
    assert [is_delete_operation(op) for op in ops] == expected
    con = connect()
    got = [con.execute(f"SELECT {is_delete_sql('?')}", [op]).fetchall()[0][0] for op in ops]
    assert got == expected
