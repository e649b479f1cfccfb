"""Which logged requests the bucket owner pays for (issue 22.3): since 2024-05 AWS does not bill a 403 that
comes from outside the owner's account or organization. The requester's ARN carries its account; the
owner's accounts come from BUCKETLENS_ACCOUNT_IDS or, unset, from the cost export's usage accounts."""

import importlib
from datetime import date

import dagster as dg
import duckdb
import pytest

from bucketlens.formats import access_log, cur
from bucketlens.formats import inventory as inventory_fmt
from tests.rows import insert_rows

asset = importlib.import_module(
    "assets.usage.user_daily_requests"
)  # the module; the package exports the asset
DAY = date(2026, 10, 5)
OWNER = "123456789012"
INSIDE = f"arn:aws:sts::{OWNER}:assumed-role/photos-app-backend/photovault-api"
OUTSIDE = "arn:aws:iam::999999999999:user/scraper"
CANONICAL = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
# (status, requester, how many) GETs of user 1001's photo
REQUESTS = [(200, INSIDE, 5), (403, OUTSIDE, 3), (403, "-", 4), (403, INSIDE, 2), (403, CANONICAL, 1)]


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("raw", "usage"):
        con.execute(f"CREATE SCHEMA {schema}")
    for ddl in (access_log.TABLE_DDL, inventory_fmt.TABLE_DDL, cur.TABLE_DDL, asset.TABLE_DDL):
        con.execute(ddl)
    rows = [(status, requester) for status, requester, n in REQUESTS for _ in range(n)]
    insert_rows(
        con,
        "INSERT INTO raw.access_log_requests (usage_date, request_time, bucket, key, operation, http_status, "
        "requester, user_id, request_id) VALUES (?, ?, 'photos-prod', 'users/1001/a.jpg', 'REST.GET.OBJECT', "
        "?, ?, '1001', ?)",
        [(DAY, f"{DAY} 10:00:00", s, r, f"R{i}") for i, (s, r) in enumerate(rows)],
    )
    return con


def billed_403s(con) -> tuple[int, int]:
    return con.execute(
        "SELECT sum(request_count), sum(billable_count) FROM usage.user_daily_requests "
        "WHERE usage_date = ? AND http_status_class = '4xx'",
        [DAY],
    ).fetchall()[0]


def test_owner_accounts_unknown_only_anonymous_403s_are_free(con):
    result = asset.load_window(con, [DAY], [])[0]
    assert billed_403s(con) == (10, 6)  # 3 outside + 2 inside + 1 canonical billed; 4 anonymous free
    assert result.metadata["billable_requests"] == dg.MetadataValue.int(11)  # + the 5 successful GETs
    assert result.metadata["owner_accounts_from"] == "unknown (only anonymous 403s unbilled)"


def test_configured_owner_accounts_make_403s_from_other_accounts_free(con):
    result = asset.load_window(con, [DAY], [OWNER])[0]
    assert billed_403s(con) == (10, 3)  # the owner's own 2 and the canonical-id 1; not the outside 3
    assert result.metadata["billable_requests"] == dg.MetadataValue.int(8)
    assert result.metadata["owner_accounts_from"] == "BUCKETLENS_ACCOUNT_IDS"


def test_the_cost_exports_usage_accounts_are_the_owners_when_none_are_configured(con):
    con.execute(
        "INSERT INTO raw.cost_line_items (billing_period, usage_start, usage_account_id) VALUES (?, ?, ?)",
        ["2026-10", f"{DAY} 00:00:00", OWNER],
    )
    result = asset.load_window(con, [DAY], [])[0]
    assert billed_403s(con) == (10, 3)
    assert (result.metadata["owner_accounts"], result.metadata["owner_accounts_from"]) == (
        OWNER,
        "cost export usage accounts",
    )


def test_cloudfronts_origin_fetches_are_counted_apart_from_egress(con):
    """GETs CloudFront makes to its S3 origin (its user agent; under origin access control its service
    principal as requester) are logged like any GET; their bytes land in cdn_origin_bytes, which the cost
    split takes out of internet egress."""
    fetches = [("Amazon CloudFront", CANONICAL, 1000), ("-", "svc:cloudfront.amazonaws.com", 700)]
    insert_rows(
        con,
        "INSERT INTO raw.access_log_requests (usage_date, request_time, bucket, key, operation, http_status, "
        "requester, user_agent, bytes_sent, user_id, request_id) VALUES (?, ?, 'photos-prod', "
        "'users/1001/a.jpg', 'REST.GET.OBJECT', 200, ?, ?, ?, '1001', ?)",
        [(DAY, f"{DAY} 11:00:00", r, ua, b, f"CF{i}") for i, (ua, r, b) in enumerate(fetches)],
    )
    con.execute(
        "INSERT INTO raw.access_log_requests (usage_date, request_time, bucket, key, operation, http_status, "
        "requester, user_agent, bytes_sent, user_id, request_id) VALUES (?, ?, 'photos-prod', "
        "'users/1001/a.jpg', 'REST.GET.OBJECT', 200, ?, 'PhotoVault/3.2 (iOS)', 250, '1001', 'APP')",
        [DAY, f"{DAY} 12:00:00", INSIDE],
    )
    asset.load_window(con, [DAY], [OWNER])
    assert con.execute(
        "SELECT sum(bytes_sent), sum(cdn_origin_bytes) FROM usage.user_daily_requests WHERE http_status_class = '2xx'"
    ).fetchall() == [(1950, 1700)]


def test_a_request_is_billed_at_the_class_its_object_is_listed_in_that_day(con):
    """The GETs above touch users/1001/a.jpg: listed in Glacier IR the same day (and in Standard-IA the day
    before, which must not count); a PUT of a key not listed yet counts as STANDARD; a GET of a key listed
    only as a delete marker or a noncurrent version counts as STANDARD too."""
    before = date(2026, 10, 4)
    listed = [
        (DAY, "users/1001/a.jpg", "GLACIER_IR", True, False),
        (before, "users/1001/a.jpg", "STANDARD_IA", True, False),
        (DAY, "users/1001/old.jpg", "DEEP_ARCHIVE", False, False),
        (DAY, "users/1001/gone.jpg", None, True, True),
    ]
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, version_id, is_latest, is_delete_marker, "
        "size, storage_class, user_id) VALUES (?, 'photos-prod', ?, 'v', ?, ?, 1, ?, '1001')",
        [(d, k, latest, marker, c) for d, k, c, latest, marker in listed],
    )
    for i, (operation, key) in enumerate(
        [("REST.PUT.OBJECT", "users/1001/new.jpg"), ("REST.GET.OBJECT", "users/1001/old.jpg"),
         ("REST.GET.OBJECT", "users/1001/gone.jpg")]
    ):  # fmt: skip
        con.execute(
            "INSERT INTO raw.access_log_requests (usage_date, request_time, bucket, key, operation, http_status, "
            "requester, user_id, request_id) VALUES (?, ?, 'photos-prod', ?, ?, 200, ?, '1001', ?)",
            [DAY, f"{DAY} 11:00:00", key, operation, INSIDE, f"X{i}"],
        )
    asset.load_window(con, [DAY], [OWNER])
    classes = con.execute(
        "SELECT operation, storage_class, sum(request_count) FROM usage.user_daily_requests "
        "WHERE usage_date = ? GROUP BY ALL ORDER BY ALL",
        [DAY],
    ).fetchall()
    assert classes == [
        ("REST.GET.OBJECT", "GLACIER_IR", 15),
        ("REST.GET.OBJECT", "STANDARD", 2),
        ("REST.PUT.OBJECT", "STANDARD", 1),
    ]
