"""``stage_first_seen_days`` builds every day of a window exactly as ``stage_first_seen`` builds each day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bucketlens.formats import access_log as fmt
from bucketlens.formats.access_log_dedupe import stage_first_seen
from bucketlens.formats.access_log_window import create_objects_table, stage_first_seen_days

DAYS = [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 2)]
COLUMNS = [name for name, _ in fmt.COLUMNS]
# (object, line, day, request id, operation, key). Objects are named by delivery day; a day reads its
# own objects and the next day's "a" object (delivered early), so records of a day sit in both.
RECORDS = [
    ("d0-a", 1, 0, "R1", "REST.GET.OBJECT", "k1"),
    ("d0-b", 1, 0, "R1", "REST.GET.OBJECT", "k1"),  # delivered twice: the first seen (d0-a) stays
    ("d0-b", 2, 0, "R2", "REST.GET.OBJECT", None),
    ("d1-a", 1, 0, "R2", "REST.GET.OBJECT", None),  # late, and a repeat of d0-b:2 (NULL key matches)
    ("d1-a", 2, 0, "R3", "REST.PUT.OBJECT", "k3"),  # late, delivered once: kept for day 0
    ("d1-a", 3, 1, "R1", "REST.GET.OBJECT", "k1"),  # R1 again on another day: not a repeat
    ("d1-a", 4, 1, None, "REST.GET.OBJECT", "k4"),  # no request id: never a repeat
    ("d1-b", 1, 1, None, "REST.GET.OBJECT", "k4"),
    ("d1-b", 2, 1, "R4", None, "k5"),
    ("d1-b", 3, 1, "R4", None, "k5"),  # repeated within one object: the lower line stays
    ("d2-b", 1, 0, "R9", "REST.GET.OBJECT", "k9"),  # day 0's record in an object day 0 does not read
    ("d2-a", 1, 2, "R5", "REST.HEAD.OBJECT", "k6"),
    ("d2-b", 2, 2, "R5", "REST.HEAD.OBJECT", "k6"),
    ("d3-a", 1, 2, "R5", "REST.HEAD.OBJECT", "k6"),
]
FILES = {
    DAYS[0]: (["d0-a", "d0-b", "d1-a"], ["d0-a", "d0-b"]),
    DAYS[1]: (["d1-a", "d1-b", "d2-a"], ["d1-a", "d1-b"]),
    DAYS[2]: (["d2-a", "d2-b", "d3-a"], ["d2-a", "d2-b"]),
}


def _records(con) -> None:
    con.execute("CREATE SCHEMA raw")
    con.execute(fmt.TABLE_DDL)
    con.execute("CREATE TABLE records AS SELECT * FROM raw.access_log_requests LIMIT 0")
    for file, line, day, request_id, operation, key in RECORDS:
        when = datetime.combine(DAYS[0] + timedelta(days=day), datetime.min.time()) + timedelta(hours=line)
        con.execute(
            "INSERT INTO records (request_time, request_id, operation, key, user_id, source_file, source_line, "
            "usage_date) VALUES (?, ?, ?, ?, 'u', ?, ?, ?)",
            [when, request_id, operation, key, file, line, when.date()],
        )


def test_every_day_equals_stage_first_seen_of_that_day(con):
    _records(con)
    expected = {}
    for day in DAYS:
        counts = stage_first_seen(con, "records", f"one_{day:%d}", day, FILES[day][0])
        expected[day] = (counts, con.execute(f"SELECT * FROM one_{day:%d}").fetchall())
    create_objects_table(con, "objects", FILES)
    con.execute("CREATE TABLE together AS SELECT * FROM raw.access_log_requests LIMIT 0")
    counts = stage_first_seen_days(con, "records", "together", "objects", DAYS, COLUMNS)

    assert counts == {day: counts for day, (counts, _) in expected.items()}
    for day, (_, rows) in expected.items():
        got = con.execute("SELECT * FROM together WHERE usage_date = ?", [day]).fetchall()
        assert sorted(got, key=repr) == sorted(rows, key=repr)
    kept = con.execute("SELECT usage_date, source_file, source_line FROM together ORDER BY ALL").fetchall()
    assert kept == [
        (DAYS[0], "d0-a", 1), (DAYS[0], "d0-b", 2), (DAYS[0], "d1-a", 2),
        (DAYS[1], "d1-a", 3), (DAYS[1], "d1-a", 4), (DAYS[1], "d1-b", 1), (DAYS[1], "d1-b", 2),
        (DAYS[2], "d2-a", 1),
    ]  # fmt: skip
    assert counts == {DAYS[0]: (3, 5), DAYS[1]: (4, 5), DAYS[2]: (1, 3)}  # (rows, records of the day)


def test_objects_table_marks_each_days_own_objects(con):
    create_objects_table(con, "objects", FILES)
    rows = con.execute("SELECT usage_date, source_file, file_order, own FROM objects ORDER BY ALL").fetchall()
    assert rows[:3] == [(DAYS[0], "d0-a", 1, True), (DAYS[0], "d0-b", 2, True), (DAYS[0], "d1-a", 3, False)]
    assert len(rows) == 9
