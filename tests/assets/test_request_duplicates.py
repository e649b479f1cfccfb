"""The access_log_requests check that no request is staged twice: counted by hand per day."""

from datetime import date

import duckdb

from assets.raw.access_log_requests import DUPLICATE_REQUESTS_SQL
from assets.window import figures_by_day
from bucketlens.formats import access_log
from tests.rows import insert_rows

DAY, NEXT = date(2026, 10, 5), date(2026, 10, 6)


def test_repeated_requests_are_counted_per_day_on_the_exact_key():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(access_log.TABLE_DDL)
    rows = [
        (DAY, "R1", "REST.GET.OBJECT", "a.jpg"), (DAY, "R1", "REST.GET.OBJECT", "a.jpg"),  # one repeat
        (DAY, "R1", "REST.GET.OBJECT", "a.jpg"),  # and a second
        (DAY, "R1", "REST.HEAD.OBJECT", "a.jpg"),  # another operation: not a repeat
        (DAY, "R2", "REST.GET.BUCKET", None), (DAY, "R2", "REST.GET.BUCKET", None),  # no key, twice: a repeat
        (DAY, "R3", "REST.GET.OBJECT", "b.jpg"), (DAY, "R3", "REST.GET.OBJECT", "B.jpg"),  # keys differ
        (NEXT, "R1", "REST.GET.OBJECT", "a.jpg"),  # the next day counts on its own
        (NEXT, "R4", "REST.PUT.OBJECT", "c.jpg"),
    ]  # fmt: skip
    insert_rows(
        con,
        "INSERT INTO raw.access_log_requests (usage_date, request_id, operation, key, user_id) VALUES (?, ?, ?, ?, 'u')",
        rows,
    )
    figures = figures_by_day(con, DUPLICATE_REQUESTS_SQL, {"start": DAY, "end": NEXT}, [DAY, NEXT])
    assert {day: int(f.get("duplicates") or 0) for day, f in figures.items()} == {DAY: 3, NEXT: 0}
