import pytest

from bucketlens.costing.operations import (
    billable,
    billable_sql,
    is_delete_operation,
    is_delete_sql,
    request_tier,
    request_tier_sql,
    requester_account,
)
from tests.costing.tables import connect
from tests.rows import insert_rows

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
    insert_rows(con, "INSERT INTO ops VALUES (?, ?)", TIER_TABLE)
    rows = con.execute(f"SELECT op, expected, {request_tier_sql('op')} FROM ops").fetchall()
    assert [(op, got) for op, expected, got in rows if got != expected] == []


OWNER = "123456789012"
INSIDE = f"arn:aws:sts::{OWNER}:assumed-role/photos-app-backend/photovault-api"
OUTSIDE = "arn:aws:iam::999999999999:user/scraper"
CANONICAL = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
# (status, requester, billed when the owner's accounts are unknown, billed when they are [OWNER])
BILLABLE_TABLE = [
    (200, "arn:aws:iam::123:user/a", True, True),
    (304, "-", True, True),
    (404, "-", True, True),
    (403, "-", False, False),  # anonymous: never billed
    (403, None, False, False),
    (403, INSIDE, True, True),  # the owner's own role: billed
    (403, f"arn:aws:iam::{OWNER}:root", True, True),
    (403, OUTSIDE, True, False),  # another account: unbilled once the owner's accounts are known
    (403, "arn:aws-us-gov:sts::999999999999:assumed-role/r/s", True, False),
    (403, CANONICAL, True, True),  # no account id in it: nothing proves it came from outside
    (200, OUTSIDE, True, True),  # only 403s are free
    (404, OUTSIDE, True, True),
    (500, "arn:aws:iam::123:user/a", False, False),
    (503, "-", False, False),
    (None, "-", True, True),  # lifecycle records carry no status
]


@pytest.mark.parametrize(("status", "requester", "unknown", "known"), BILLABLE_TABLE)
def test_billable_python(status, requester, unknown, known):
    assert billable(status, requester) is unknown
    assert billable(status, requester, [OWNER]) is known


def test_requester_account_is_read_from_iam_and_sts_arns():
    assert requester_account(INSIDE) == OWNER
    assert requester_account(OUTSIDE) == "999999999999"
    assert [requester_account(r) for r in ("-", None, CANONICAL, "svc:logging.s3.amazonaws.com")] == [
        None
    ] * 4


def test_billable_sql_matches_table_for_int_and_text_status():
    con = connect()
    con.execute(
        "CREATE TABLE r (status INTEGER, status_text VARCHAR, requester VARCHAR, unknown BOOLEAN, known BOOLEAN)"
    )
    insert_rows(
        con,
        "INSERT INTO r VALUES (?, ?, ?, ?, ?)",
        [(s, "-" if s is None else str(s), q, u, k) for s, q, u, k in BILLABLE_TABLE],
    )
    accounts = "$owners::VARCHAR[]"
    rows = con.execute(
        f"SELECT unknown, known, {billable_sql('status', 'requester')}, {billable_sql('status_text', 'requester')}, "
        f"{billable_sql('status', 'requester', accounts)}, {billable_sql('status_text', 'requester', accounts)} "
        "FROM r ORDER BY rowid",
        {"owners": [OWNER]},
    ).fetchall()
    assert [(u, k) for u, k, *_ in rows] == [(u, k) for _, _, u, k in BILLABLE_TABLE]
    assert all(u == a == b and k == c == d for u, k, a, b, c, d in rows)
    # an empty account list is "unknown": the legacy rule
    unknown = con.execute(
        f"SELECT bool_and(unknown = {billable_sql('status', 'requester', accounts)}) FROM r", {"owners": []}
    ).fetchall()
    assert unknown == [(True,)]


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
