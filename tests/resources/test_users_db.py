"""The users query against a real users table, on SQLite and on a real PostgreSQL server: ids as text,
a NULL id kept NULL (never the text "None"), and the ``users`` asset's check counting such rows."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
import sqlalchemy as sa

from assets.raw.users import TABLE_DDL, load_window
from resources.users_db import UsersDatabase, UsersQueryError

DAY = date(2026, 10, 1)
ROWS = [
    (1042, "personal", 10**9, "2026-09-01 10:00:00", "active"),
    (None, "family", 5 * 10**9, "2026-09-02 11:30:00", "active"),  # a broken row in the service's DB
    (7, "family", None, "2026-09-03T12:00:00+02:00", "suspended"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def users_url(request, tmp_path) -> str:
    """A users table with integer ids (one NULL) in the service's own database."""
    url = (
        f"sqlite:///{tmp_path / 'users.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE users (user_id INTEGER, plan TEXT, quota_bytes BIGINT, created_at TEXT, status TEXT)"
        )
        conn.execute(
            sa.text("INSERT INTO users VALUES (:u, :p, :q, :c, :s)"),
            [dict(zip("upqcs", row, strict=True)) for row in ROWS],
        )
    engine.dispose()
    return url


def test_integer_ids_become_text_and_a_null_id_stays_null(users_url):
    frame = UsersDatabase(url=users_url).fetch_users().sort_values("created_at", ignore_index=True)

    assert frame["user_id"].tolist() == ["1042", None, "7"]  # not "1042.0", not "None"
    assert frame["plan"].tolist() == ["personal", "family", "family"]
    assert [str(t) for t in frame["created_at"]] == [
        "2026-09-01 10:00:00",
        "2026-09-02 11:30:00",
        "2026-09-03 10:00:00",  # +02:00 as naive UTC
    ]


def test_text_ids_are_kept_as_written(users_url):
    query = (
        "SELECT 'u-' || CAST(user_id AS TEXT) AS user_id, plan, quota_bytes, created_at, status FROM users"
    )
    frame = UsersDatabase(url=users_url, query=query).fetch_users()
    assert sorted(frame["user_id"], key=str) == [None, "u-1042", "u-7"]  # NULL || text is NULL


def test_a_query_missing_columns_names_them(users_url):
    with pytest.raises(UsersQueryError, match="missing quota_bytes, created_at, status"):
        UsersDatabase(url=users_url, query="SELECT user_id, plan FROM users").fetch_users()


def test_the_users_asset_loads_the_rows_with_an_id_and_its_check_counts_the_one_without(users_url):
    frame = UsersDatabase(url=users_url).fetch_users()
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(TABLE_DDL)
    con.register("users_frame", frame)

    (result,) = load_window(con, [DAY], "^([A-Za-z0-9_-]+)$")

    check = result.checks["user_ids_present"]
    assert (check.passed, check.metadata) == (False, {"rows_without_user_id": 1})
    assert con.execute("SELECT user_id FROM raw.users ORDER BY user_id").fetchall() == [("1042",), ("7",)]
    assert result.checks["user_ids_unique"].passed  # "None" is not a user any more
    con.close()
