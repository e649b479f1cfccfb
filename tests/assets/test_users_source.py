"""raw.users refuses a users database that cannot be what the operator meant (issue 14, defect 6): a
SQLite file that does not exist (SQLite would create an empty one), a query that fails, a query that
returns nobody for days that hold users — each a one-line failure naming the database, nothing replaced."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta

from assets.raw import users
from tests.assets.raw_helpers import materialize_day, query, step_failures

USERS = "SELECT snapshot_date, count(*) FROM raw.users GROUP BY 1"


def test_a_missing_sqlite_file_is_refused_and_not_created(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=3)
    missing = tmp_path / "no-such-dir" / "users.sqlite"
    result = materialize_day(tmp_path, tiny_source.root, f"sqlite:///{missing}", day, [users])
    assert step_failures(result) == {
        "users": f"The users database {missing} does not exist (BUCKETLENS_USERS_DB=sqlite:///{missing}); "
        "refusing to create an empty one. Nothing was replaced."
    }
    assert not missing.parent.exists()  # before the fix SQLite created it (and the query then failed)


def test_a_failing_query_and_an_empty_answer_keep_the_loaded_users(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=3)
    db = tmp_path / "users.sqlite"
    shutil.copy(tiny_source.root / "users.sqlite", db)
    url = f"sqlite:///{db}"
    assert materialize_day(tmp_path, tiny_source.root, url, day, [users]).success
    loaded = query(tmp_path, USERS)
    ((_, count),) = loaded

    with sqlite3.connect(db) as con:  # the service's table emptied (a test database, a failed restore)
        con.execute("DELETE FROM users")
    emptied = materialize_day(tmp_path, tiny_source.root, url, day, [users])
    assert step_failures(emptied) == {
        "users": f"The users query returned no user from {url}, but {day} holds {count} users loaded before "
        "(1 day(s) of this window are loaded). Nothing was replaced."
    }
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE users")
    broken = materialize_day(tmp_path, tiny_source.root, url, day, [users])
    assert step_failures(broken) == {
        "users": f"The users query failed on {url}: no such table: users. Nothing was replaced."
    }
    assert query(tmp_path, USERS) == loaded
