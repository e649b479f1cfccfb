"""raw.users: the service's users as they stood at the end of the partition day."""

from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from assets.metadata import markdown_table
from assets.raw.guards import one_line
from assets.window import Check, CheckSpec, DayResult, daily_asset, window_days, window_result
from resources.service import ServiceLayout
from resources.users_db import UsersDatabase, UsersQueryError
from resources.warehouse import Replacement, Warehouse, replace_partitions

ASSET = dg.AssetKey("users")
TABLE_DDL = """
CREATE TABLE IF NOT EXISTS raw.users (
    snapshot_date DATE NOT NULL,
    user_id VARCHAR NOT NULL,
    plan VARCHAR,
    quota_bytes BIGINT,
    created_at TIMESTAMP,
    status VARCHAR
)"""

STAGE_SQL = """
CREATE OR REPLACE TEMP TABLE stage_users AS
SELECT ?::DATE AS snapshot_date, user_id::VARCHAR AS user_id, lower(trim(plan::VARCHAR)) AS plan,
       TRY_CAST(quota_bytes AS BIGINT) AS quota_bytes, created_at::TIMESTAMP AS created_at,
       lower(trim(status::VARCHAR)) AS status
FROM users_frame
WHERE (created_at IS NULL OR created_at < ?::TIMESTAMP) AND user_id IS NOT NULL
"""
# Rows the users query returned without an id: not loaded (no usage can be theirs), counted by a check.
MISSING_IDS_SQL = "SELECT count(*) FROM users_frame WHERE user_id IS NULL"


def missing_sqlite_file(url: str) -> str | None:
    """The file a ``sqlite:///path`` URL names, when it does not exist: SQLite would silently create an
    empty database there (a typo then reads as "no users"). None for other databases and in-memory ones."""
    parsed = sa.engine.make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    return None if Path(path).is_file() else str(Path(path).resolve())


def read_users(users_db: UsersDatabase) -> pd.DataFrame:
    """All users, or a one-line failure naming the database (a missing SQLite file, a failing query)."""
    missing = missing_sqlite_file(users_db.url)
    if missing:
        raise dg.Failure(
            description=f"The users database {missing} does not exist (BUCKETLENS_USERS_DB={users_db.describe()}); "
            "refusing to create an empty one. Nothing was replaced."
        )
    try:
        return users_db.fetch_users()
    except UsersQueryError as exc:
        raise dg.Failure(description=one_line(str(exc))) from None
    except sa.exc.SQLAlchemyError as exc:
        reason = one_line(str(getattr(exc, "orig", None) or exc))
        raise dg.Failure(
            description=f"The users query failed on {users_db.describe()}: {reason}. Nothing was replaced."
        ) from None


def refuse_to_empty_loaded_days(con, days, where: str) -> None:
    """A query that returns no user would replace loaded days with nobody: fail naming them instead."""
    loaded = con.execute(
        "SELECT snapshot_date, count(*) FROM raw.users WHERE list_contains(?, snapshot_date) GROUP BY ALL ORDER BY 1",
        [days],
    ).fetchall()
    if loaded:
        day, count = loaded[0]
        raise dg.Failure(
            description=f"The users query returned no user from {where}, but {day} holds {count} users loaded "
            f"before ({len(loaded)} day(s) of this window are loaded). Nothing was replaced."
        )


def load_day(con, day, id_regex: str) -> DayResult:
    con.execute(STAGE_SQL, [day, day + timedelta(days=1)])
    (rows,) = replace_partitions(con, [Replacement("raw.users", "stage_users", "snapshot_date = ?", [day])])
    (missing_ids,) = con.execute(MISSING_IDS_SQL).fetchall()[0]
    duplicates, no_plan, bad_ids = con.execute(
        """SELECT count(*) - count(DISTINCT user_id), count(*) FILTER (WHERE plan IS NULL),
                  count(*) FILTER (WHERE NOT regexp_full_match(user_id, ?))
           FROM raw.users WHERE snapshot_date = ?""",
        [id_regex, day],
    ).fetchall()[0]
    plans = con.execute(
        """SELECT plan, count(*), count(*) FILTER (WHERE created_at::DATE = ?), count(*) FILTER (WHERE status <> 'active')
           FROM raw.users WHERE snapshot_date = ? GROUP BY ALL ORDER BY 2 DESC""",
        [day, day],
    ).fetchall()
    return DayResult(
        day,
        metadata={
            "dagster/row_count": rows,
            "users": rows,
            "signups_that_day": sum(p[2] for p in plans),
            "by_plan": markdown_table(["plan", "users", "signed up that day", "not active"], plans),
        },
        checks={
            "user_ids_unique": Check(duplicates == 0, {"duplicates": int(duplicates)}),
            "user_ids_present": Check(missing_ids == 0, {"rows_without_user_id": int(missing_ids)}),
            "plans_present": Check(no_plan == 0, {"without_plan": int(no_plan)}),
            "user_ids_match_key_pattern": Check(
                bad_ids == 0, {"non_matching_ids": int(bad_ids)}, severity=dg.AssetCheckSeverity.WARN
            ),
        },
    )


@daily_asset(
    "users",
    "raw",
    checks=(
        CheckSpec("user_ids_unique", "Each user appears once per snapshot."),
        CheckSpec(
            "user_ids_present", "Every row of the users query has a user id (rows without are not loaded)."
        ),
        CheckSpec("plans_present", "Every user has a plan."),
        CheckSpec("user_ids_match_key_pattern", "Ids can appear in object keys (else no usage is found)."),
    ),
    kinds=("duckdb", "sqlite"),
)
def users(
    context: dg.AssetExecutionContext, users_db: UsersDatabase, warehouse: Warehouse, service: ServiceLayout
) -> dg.MaterializeResult:
    """One row per user who existed by the end of the day: plan, quota, signup time, status, read from
    the service's database through the configured query."""
    frame = read_users(users_db)
    context.log.info(f"{len(frame)} users read from {users_db.describe()}")
    id_regex = "^(" + service.ownership().user_id_regex + ")$"
    days = window_days(context)
    with warehouse.connect() as con:
        con.execute(TABLE_DDL)
        if frame.empty:
            refuse_to_empty_loaded_days(con, days, users_db.describe())
        con.register("users_frame", frame)
        results = [load_day(con, day, id_regex) for day in days]
        con.unregister("users_frame")
    return window_result(results)
