"""usage.service_daily_kpis computed by hand on a day of a few requests, objects and costs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from assets.cost.user_daily_cost import TABLE_DDL as COST_DDL
from assets.usage.service_daily_kpis import CHECK_SQL, TABLE, TABLE_DDL, load_window, target_params
from assets.usage.user_daily_storage import TABLE_DDL as STORAGE_DDL
from bucketlens.anomaly.rules import load_rules
from bucketlens.usage import SERVICE_DAILY_KPIS_SQL
from bucketlens.usage import SERVICE_KPIS as KPIS
from tests.rows import insert_rows
from tests.savings.tables import BUCKET, DAY, GIB, MIB, at, connect, request

TARGETS = load_rules().kpis.targets


@pytest.fixture
def con():
    c = connect()
    c.execute(STORAGE_DDL)
    c.execute(COST_DDL)
    # uploads: 18 PUTs answered 200, one 503, one 403; a multipart upload completed: 20 uploads ok of 22
    for i in range(18):
        request(c, DAY, "REST.PUT.OBJECT", f"users/u{i % 3}/p{i}.jpg", f"u{i % 3}", request_id=f"put{i}")
    request(c, DAY, "REST.PUT.OBJECT", "users/u1/x.jpg", "u1", status=503, request_id="slow")
    request(c, DAY, "REST.PUT.OBJECT", "users/u4/x.jpg", "u4", status=403, request_id="denied")
    request(c, DAY, "REST.POST.UPLOAD", "users/u5/v.mov", "u5", request_id="complete")
    # 60 GETs with turn-around times 1..60 ms, 8 answered 404 (not errors), 2 answered 500
    for i in range(60):
        request(c, DAY, "REST.GET.OBJECT", f"users/u0/p{i}.jpg", "u0", turn_ms=i + 1, request_id=f"get{i}")
    for i in range(8):
        request(c, DAY, "REST.GET.OBJECT", f"users/u0/missing{i}", "u0", status=404, request_id=f"nf{i}")
    for i in range(2):
        request(c, DAY, "REST.GET.OBJECT", f"users/u0/p{i}.jpg", "u0", status=500, request_id=f"err{i}")
    # a lifecycle expiry has no status: not among the answered requests
    request(c, DAY, "S3.EXPIRE.OBJECT", "tmp/x", "_shared", status=None, request_id="expire")
    # 100 GiB stored; $0.97 attributed that day
    c.execute("INSERT INTO usage.user_daily_storage (usage_date, user_id, storage_class, bytes) VALUES (?, 'u0', "
              "'STANDARD', ?)", [DAY, 100 * GIB])  # fmt: skip
    c.execute("INSERT INTO cost.user_daily_cost VALUES (?, 'u0', 'storage', 'STANDARD', 0.90, false, NULL, NULL), "
              "(?, '_shared', 'requests', NULL, 0.07, false, NULL, NULL)", [DAY, DAY])  # fmt: skip
    # added since yesterday: 10 MiB new, 4 MiB of it the same content (ETag, size) as an older object
    rows = [
        ("users/u0/old.jpg", 4 * MIB, "same", at(DAY - timedelta(days=50))),
        ("users/u0/copy.jpg", 4 * MIB, "same", at(DAY - timedelta(hours=5))),
        ("users/u0/new.jpg", 6 * MIB, "other", at(DAY - timedelta(hours=3))),
    ]
    insert_rows(
        c,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, is_latest, is_delete_marker, size, "
        "last_modified, storage_class, e_tag, user_id) VALUES (?, ?, ?, true, false, ?, ?, 'STANDARD', ?, 'u0')",
        [(DAY, BUCKET, k, s, m, e) for k, s, e, m in rows],
    )
    return c


def kpis(con) -> dict[str, tuple]:
    con.execute(
        f"CREATE TEMP TABLE k AS {SERVICE_DAILY_KPIS_SQL}",
        {"start": DAY, "end": DAY, **target_params(TARGETS)},
    )
    got = con.execute(
        "SELECT kpi, value, numerator, denominator, target, meets_target, display FROM k"
    ).fetchall()
    return {r[0]: r[1:] for r in got}


def test_each_kpi_by_hand(con):
    k = kpis(con)
    assert set(k) == set(KPIS)
    # 20 PUTs and 1 Complete Multipart Upload; 18 + 1 answered 2xx: 19 of 21
    assert k["upload_success_rate"][:3] == (19 / 21, 19, 21)
    assert k["upload_failure_rate"][:3] == (2 / 21, 2, 21) and k["upload_failure_rate"][4] is False
    # errors: the 503, the 403 and the two 500s (not the eight 404s) of 91 answered requests
    assert k["error_rate"][:3] == (4 / 91, 4, 91) and k["not_found_rate"][:3] == (8 / 91, 8, 91)
    # $0.97 over 19 successful uploads
    assert k["cost_per_upload_usd"][0] == pytest.approx(0.97 / 19) and k["cost_per_upload_usd"][4] is False
    # a month (31 days in December) of $0.97 days per GiB stored: 0.97 × 31 / 100
    assert k["cost_per_gb_month_usd"][0] == pytest.approx(0.97 * 31 / 100)
    # 4 MiB of the 10 MiB added duplicate content already stored
    assert k["dedup_rate"][:3] == (0.4, 4 * MIB, 10 * MIB) and k["dedup_rate"][5] == "40.00 %"
    # turn-around times 1..60 of the successful GETs: p50 30.5, p95 = 1 + 0.95 × 59 = 57.05
    assert k["time_to_first_byte_p50_ms"][0] == 30.5
    assert k["time_to_first_byte_p95_ms"][0] == pytest.approx(57.05)
    assert k["time_to_first_byte_p95_ms"][4] is True and k["time_to_first_byte_p95_ms"][5] == "57 ms"
    # users with a successful upload: u0, u1, u2 and u5
    assert k["daily_active_uploaders"][0] == 4


def test_a_copy_uploaded_since_the_start_of_the_day_before_is_a_duplicate_added(con):
    midnight = at(DAY, 0)
    rows = [
        ("users/u0/third.jpg", MIB, "third", at(DAY - timedelta(days=30))),
        ("users/u0/third-again.jpg", MIB, "third", midnight - timedelta(hours=5)),  # the day before, 19:00
        ("users/u0/fourth.jpg", 2 * MIB, "fourth", at(DAY - timedelta(days=30))),
        ("users/u0/fourth-again.jpg", 2 * MIB, "fourth", midnight - timedelta(hours=25)),  # two days before
    ]
    insert_rows(
        con,
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, is_latest, is_delete_marker, size, "
        "last_modified, storage_class, e_tag, user_id) VALUES (?, ?, ?, true, false, ?, ?, 'STANDARD', ?, 'u0')",
        [(DAY, BUCKET, k, s, m, e) for k, s, e, m in rows],
    )
    # added: the fixture's 10 MiB and the 1 MiB copy of the day before; duplicates: 4 MiB and that copy
    assert kpis(con)["dedup_rate"][:3] == (5 / 11, 5 * MIB, 11 * MIB)


def test_a_day_without_uploads_or_cost_has_no_value_not_zero(con):
    con.execute("DELETE FROM raw.access_log_requests WHERE operation LIKE 'REST.P%'")
    con.execute("DELETE FROM cost.user_daily_cost")
    k = kpis(con)
    assert k["upload_success_rate"][0] is None and k["upload_success_rate"][5] == "no data"
    assert k["cost_per_upload_usd"][0] is None and k["cost_per_gb_month_usd"][0] is None


def test_the_check_holds_kpis_to_their_definitions(con):
    con.execute(TABLE_DDL)
    (result,) = load_window(con, [DAY], TARGETS)
    assert result.checks["kpis_consistent"].passed
    con.execute(f"UPDATE {TABLE} SET value = 0.5 WHERE kpi = 'error_rate'")  # not 4 / 91
    con.execute(f"UPDATE {TABLE} SET numerator = 0.5 WHERE kpi = 'cost_per_upload_usd'")
    ((_, duplicates, count, bad_rates, over_one, p50_high, kpi_cost, cost),) = con.execute(
        CHECK_SQL, {"start": DAY, "end": DAY}
    ).fetchall()
    assert (duplicates, count, bad_rates, over_one, p50_high) == (0, len(KPIS), 1, False, False)
    assert (kpi_cost, cost) == (0.5, Decimal("0.970000"))
