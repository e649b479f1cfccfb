"""Leaks, each type a case computed by hand: what is leaked, what it costs a month, and the cleanup.

Prices: Standard $0.023/GB-month, Deep Archive $0.00099 (+ 32 KiB at that rate and 8 KiB at Standard's
per object); a delete marker is billed as its key name's bytes at Standard's rate. GB = 2^30 bytes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bucketlens.anomaly.rules import load_rules
from bucketlens.costing.price_book import PriceBook
from bucketlens.keys import KeyPattern
from bucketlens.savings.leaks import TABLE, TABLE_DDL, WELL_FORMED_SQL, stage_leaks, well_formed_params
from tests.rows import insert_rows
from tests.savings.tables import BUCKET, DAY, GIB, KIB, MIB, at, connect, objects, request, users

AWS = "aws_s3_us_east_1"


def leaks(con, day=DAY, start=None) -> dict[tuple[str, str, object], dict]:
    rules = load_rules().savings.leaks
    stage_leaks(con, "leaks", start or day, day, rules, PriceBook.load(), AWS, KeyPattern())
    cur = con.execute("SELECT * FROM leaks")
    names = [d[0] for d in cur.description]
    return {(r[2], r[3], r[0]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


@pytest.fixture
def con():
    c = connect()
    users(c, [("gone", "deleted"), ("here", "active"), ("shut", "closed")])
    return c


def test_orphaned_data_is_every_version_of_a_deleted_closed_or_unknown_user(con):
    objects(con, "gone", 2, MIB, 400)
    objects(con, "gone", 1, MIB, 400, name="old", latest=False, storage_class="DEEP_ARCHIVE", version="v0")
    objects(con, "ghost", 1, 10 * MIB, 50)  # not in the users database at all
    objects(con, "here", 5, MIB, 50)
    found = leaks(con)
    gone = found[("gone", "orphaned_data", DAY)]
    assert (gone["objects"], gone["bytes"], gone["user_status"]) == (3, 3 * MIB, "deleted")
    # 2 MiB at 0.023, and the archived version: (1 MiB + 32 KiB) at 0.00099 + 8 KiB at 0.023
    cost = 2 * MIB / GIB * 0.023 + (MIB + 32 * KIB) / GIB * 0.00099 + 8 * KIB / GIB * 0.023
    assert float(gone["monthly_cost_usd"]) == round(cost, 6) == 0.000046
    ghost = found[("ghost", "orphaned_data", DAY)]
    assert ghost["user_status"] == "absent from the users database"
    assert float(ghost["monthly_cost_usd"]) == round(10 * MIB / GIB * 0.023, 6)
    assert not any(user == "here" for user, _, _ in found)
    rule = json.loads(gone["cleanup_rule"])["Rules"]
    assert rule[0]["Filter"] == {"Prefix": "users/gone/"} and rule[0]["Expiration"] == {"Days": 1}
    assert rule[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert rule[1]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert [k["key"] for k in json.loads(gone["keys"])][0].startswith("users/gone/")


def test_without_a_users_snapshot_nobody_is_an_orphan(con):
    con.execute("DELETE FROM raw.users")
    objects(con, "ghost", 1, 10 * MIB, 50)
    assert leaks(con) == {}


def test_noncurrent_versions_older_than_30_days_since_they_were_replaced(con):
    # replaced 40 days ago (the newer version's upload): a leak; replaced 10 days ago: not yet
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, version_id, is_latest, is_delete_marker, "
        "size, last_modified, storage_class, user_id) VALUES (?, ?, ?, ?, ?, false, ?, ?, 'STANDARD', 'here')",
        [
            (DAY, BUCKET, "users/here/a.jpg", "a1", False, 5 * MIB, at(DAY - timedelta(days=100))),
            (DAY, BUCKET, "users/here/a.jpg", "a2", True, 6 * MIB, at(DAY - timedelta(days=40))),
            (DAY, BUCKET, "users/here/b.jpg", "b1", False, 7 * MIB, at(DAY - timedelta(days=100))),
            (DAY, BUCKET, "users/here/b.jpg", "b2", True, 7 * MIB, at(DAY - timedelta(days=10))),
        ],
    )
    row = leaks(con)[("here", "noncurrent_versions", DAY)]
    assert (row["objects"], row["bytes"]) == (1, 5 * MIB)
    assert float(row["monthly_cost_usd"]) == round(5 * MIB / GIB * 0.023, 6) == 0.000112
    assert row["oldest"] == at(DAY - timedelta(days=40))  # noncurrent since the newer version
    assert json.loads(row["cleanup_rule"])["Rules"][0]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }
    assert json.loads(row["keys"]) == [
        {"key": "users/here/a.jpg", "id": "a1", "bytes": 5 * MIB, "since": "2026-10-26 12:00:00"}
    ]


def test_delete_markers_older_than_30_days_cost_their_key_names(con):
    objects(con, "here", 3, 0, 45, name="old-marker", marker=True, version="m")
    objects(con, "here", 2, 0, 10, name="new-marker", marker=True, version="m")
    row = leaks(con)[("here", "delete_markers", DAY)]
    key_bytes = 3 * len("users/here/old-marker-00000.jpg")  # 31 bytes each
    assert (row["objects"], row["bytes"]) == (3, key_bytes)
    assert float(row["monthly_cost_usd"]) == round(key_bytes / GIB * 0.023, 6) == 0
    assert json.loads(row["cleanup_rule"])["Rules"][0]["Expiration"] == {"ExpiredObjectDeleteMarker": True}


def _upload(con, day, key, upload_id, parts=(), end=None, hour=10):
    """An initiation on ``day``, parts (day offset, number, size), and an optional end request."""
    request(con, day, "REST.POST.UPLOADS", key, "here", uri=f"POST /{key}?uploads HTTP/1.1", hour=hour)
    for i, (offset, number, size) in enumerate(parts):
        request(con, day + timedelta(days=offset), "REST.PUT.PART", key, "here", object_size=size,
                uri=f"PUT /{key}?partNumber={number}&uploadId={upload_id} HTTP/1.1", hour=hour + 1 + i)  # fmt: skip
    if end:
        operation, offset = end
        request(con, day + timedelta(days=offset), operation, key, "here", status=204 if "DELETE" in operation else 200,
                uri=f"POST /{key}?uploadId={upload_id} HTTP/1.1", hour=hour + 6)  # fmt: skip


def test_incomplete_multipart_uploads_bill_their_parts_until_aborted(con):
    ten_days_ago = DAY - timedelta(days=10)
    # A: parts 1 and 2, then part 2 uploaded again smaller: the later one replaces it; never completed
    _upload(con, ten_days_ago, "users/here/a.mov", "AAA", [(0, 1, 8 * MIB), (0, 2, 8 * MIB), (1, 2, 5 * MIB)])
    # B completed, C aborted: not leaks; D initiated 3 days ago: not old enough; E never got a part
    _upload(con, ten_days_ago, "users/here/b.mov", "BBB", [(0, 1, 8 * MIB)], end=("REST.POST.UPLOAD", 1))
    _upload(con, ten_days_ago, "users/here/c.mov", "CCC", [(0, 1, 8 * MIB)], end=("REST.DELETE.UPLOAD", 1))
    _upload(con, DAY - timedelta(days=3), "users/here/d.mov", "DDD", [(0, 1, 8 * MIB)])
    request(
        con, DAY - timedelta(days=8), "REST.POST.UPLOADS", "users/here/e.mov", "here", uri="POST /x?uploads"
    )
    found = leaks(con)
    row = found[("here", "incomplete_multipart_uploads", DAY)]
    assert (row["objects"], row["bytes"]) == (2, 13 * MIB)  # A (8 + 5 MiB) and E (no parts)
    assert float(row["monthly_cost_usd"]) == round(13 * MIB / GIB * 0.023, 6) == 0.000292
    listed = {(k["key"], k["id"], k["bytes"]) for k in json.loads(row["keys"])}
    assert listed == {("users/here/a.mov", "AAA", 13 * MIB), ("users/here/e.mov", None, 0)}
    assert row["oldest"] == datetime(2026, 11, 25, 10)
    assert json.loads(row["cleanup_rule"])["Rules"][0]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }


def test_a_multipart_upload_is_a_leak_from_its_seventh_day_until_it_ends(con):
    start = DAY - timedelta(days=12)
    _upload(con, start, "users/here/late.mov", "LLL", [(0, 1, 8 * MIB)], end=("REST.DELETE.UPLOAD", 10))
    for d in range(13):  # the users snapshot of every day of the window
        users(con, [("here", "active")], day=start + timedelta(days=d))
    found = leaks(con, start=start)
    days = sorted(d for (_, t, d) in found if t == "incomplete_multipart_uploads")
    # initiated on day 0, aborted on day 10: a leak on days 7, 8 and 9
    assert days == [start + timedelta(days=i) for i in (7, 8, 9)]


def test_leaks_check_finds_rows_that_break_the_promises(con):
    objects(con, "gone", 2, MIB, 400)
    rules = load_rules().savings.leaks
    stage_leaks(con, "leaks", DAY, DAY, rules, PriceBook.load(), AWS, KeyPattern())
    con.execute(TABLE_DDL)
    con.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM leaks")
    params = well_formed_params(DAY, DAY, rules, KeyPattern())
    assert con.execute(WELL_FORMED_SQL, params).fetchall() == [(DAY, 0, None)]
    # an active user's data called orphaned (prefix and rule consistent, so only that is wrong)
    con.execute(f"UPDATE {TABLE} SET user_id = 'here', prefix = 'users/here/', "
                "cleanup_rule = replace(cleanup_rule, 'users/gone/', 'users/here/')")  # fmt: skip
    assert con.execute(WELL_FORMED_SQL, params).fetchall() == [(DAY, 1, "user here orphaned_data")]
