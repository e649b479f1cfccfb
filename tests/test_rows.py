"""tests.rows.insert_rows writes exactly what executemany writes."""

from datetime import date, datetime

import duckdb
import pytest

from tests.rows import ROWS_PER_STATEMENT, insert_rows

DDL = "CREATE TABLE t (d DATE, k VARCHAR, n BIGINT, seen TIMESTAMP, tag VARCHAR)"
SQL = "INSERT INTO t (d, k, n, seen, tag) VALUES (?, ?, ?, ?, 'fixed')"


def table(fill) -> list[tuple]:
    con = duckdb.connect()
    con.execute(DDL)
    fill(con)
    return con.execute("SELECT * FROM t ORDER BY k").fetchall()


def test_insert_rows_writes_what_executemany_writes_across_statements():
    rows = [
        (
            date(2026, 12, 5),
            f"users/{i:05d}.jpg",
            None if i % 3 == 0 else 2**40 + i,
            datetime(2026, 12, 5, i % 24),
        )
        for i in range(ROWS_PER_STATEMENT * 2 + 7)
    ]
    expected = table(lambda con: con.executemany(SQL, rows))
    written = table(lambda con: insert_rows(con, SQL, rows))
    assert written == expected
    assert len(written) == 1007 and written[0][2] is None and written[1][2] == 2**40 + 1
    assert {r[4] for r in written} == {"fixed"}


def test_insert_rows_of_nothing_writes_nothing_and_refuses_other_statements():
    assert table(lambda con: insert_rows(con, SQL, [])) == []
    with pytest.raises(ValueError, match="not an INSERT"):
        insert_rows(duckdb.connect(), "INSERT INTO t SELECT 1", [(1,)])
