"""The service's active users are distinct users (issue 22.4): a user active in two buckets is one user
of the service, though each bucket's row counts them."""

import importlib
import logging
from datetime import date

import duckdb

from bucketlens.formats import access_log, cloudwatch
from bucketlens.formats import inventory as inventory_fmt
from bucketlens.reports.daily import SERVICE_DAYS_SQL
from tests.rows import insert_rows

metrics = importlib.import_module("assets.usage.service_daily_metrics")  # the module, not the asset
DAY = date(2026, 10, 5)


def test_a_user_active_in_two_buckets_is_one_active_user_of_the_service():
    con = duckdb.connect()
    for schema in ("raw", "usage", "cost"):
        con.execute(f"CREATE SCHEMA {schema}")
    for ddl in (access_log.TABLE_DDL, inventory_fmt.TABLE_DDL, cloudwatch.TABLE_DDL, metrics.TABLE_DDL):
        con.execute(ddl)
    con.execute(
        "CREATE TABLE cost.user_daily_cost (usage_date DATE, category VARCHAR, amount_usd DECIMAL(18,6), "
        "is_estimate BOOLEAN)"
    )
    insert_rows(
        con,  # photos-a stores for 1001 and 1002, photos-b for 1001; app/ is nobody's
        "INSERT INTO raw.inventory_objects (snapshot_date, bucket, key, size, user_id, is_delete_marker) "
        "VALUES (?, ?, ?, 100, ?, false)",
        [
            (DAY, "photos-a", "users/1001/a.jpg", "1001"),
            (DAY, "photos-a", "users/1002/b.jpg", "1002"),
            (DAY, "photos-a", "app/logo.png", "_shared"),
            (DAY, "photos-b", "users/1001/c.jpg", "1001"),
        ],
    )
    con.execute(  # 1003 stores nothing but downloads from photos-b
        "INSERT INTO raw.access_log_requests (usage_date, request_time, bucket, key, operation, http_status, "
        "user_id, request_id) VALUES (?, ?, 'photos-b', 'users/1003/d.jpg', 'REST.GET.OBJECT', 200, '1003', 'R1')",
        [DAY, f"{DAY} 09:00:00"],
    )
    (result,) = metrics.load_window(con, [DAY], logging.getLogger("test"))
    rows = con.execute(
        "SELECT bucket, active_users, service_active_users FROM usage.service_daily_metrics ORDER BY bucket"
    ).fetchall()
    assert rows == [("photos-a", 2, 3), ("photos-b", 2, 3)]  # 1001+1002, 1001+1003; the service: 3
    assert result.metadata["active_users"].value == 3
    series = con.execute(SERVICE_DAYS_SQL, {"start": DAY, "end": DAY}).fetchall()  # the 30 days ending DAY
    columns = [d[0] for d in con.description]
    (report_day,) = [r for r in series if dict(zip(columns, r, strict=True))["usage_date"] == DAY]
    assert dict(zip(columns, report_day, strict=True))["active_users"] == 3  # the sum over buckets said 4
