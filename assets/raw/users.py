"""raw.users: the service's users as they stood at the end of the partition day."""

from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from assets.metadata import markdown_table
from assets.raw.guards import one_line
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    detail_day,
    figures_by_day,
    window_days,
    window_result,
)
from resources.service import ServiceLayout
from resources.users_db import UsersDatabase, UsersQueryError
from resources.warehouse import Warehouse, replace_days

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

STAGE = "stage_users"
# Every day of the window at once: the users as they stood at the end of each day (created before it ended).
STAGE_SQL = f"""
CREATE OR REPLACE TEMP TABLE {STAGE} AS
SELECT d.snapshot_date, user_id::VARCHAR AS user_id, lower(trim(plan::VARCHAR)) AS plan,
       TRY_CAST(quota_bytes AS BIGINT) AS quota_bytes, created_at::TIMESTAMP AS created_at,
       lower(trim(status::VARCHAR)) AS status
FROM users_frame, (SELECT unnest($days::DATE[]) AS snapshot_date) d
WHERE (created_at IS NULL OR created_at < d.snapshot_date + INTERVAL 1 DAY) AND user_id IS NOT NULL
"""
# Per-day figures and check inputs of the window in one grouped query.
FIGURES_SQL = """
SELECT snapshot_date, count(*) AS users, count(*) - count(DISTINCT user_id) AS duplicates,
       count(*) FILTER (WHERE plan IS NULL) AS no_plan,
       count(*) FILTER (WHERE NOT regexp_full_match(user_id, $id_regex)) AS bad_ids,
       count(*) FILTER (WHERE created_at::DATE = snapshot_date) AS signups
FROM raw.users WHERE snapshot_date BETWEEN $start AND $end GROUP BY ALL
"""
PLANS_SQL = """
SELECT plan, count(*), count(*) FILTER (WHERE created_at::DATE = ?), count(*) FILTER (WHERE status <> 'active')
FROM raw.users WHERE snapshot_date = ? GROUP BY ALL ORDER BY 2 DESC
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


def load_window(con, days, id_regex: str) -> list[DayResult]:
    """Stage every day's users with one query, replace exactly the window's days in one transaction,
    read the per-day figures and check inputs with one grouped query."""
    con.execute(STAGE_SQL, {"days": days})
    rows = replace_days(con, "raw.users", STAGE, "snapshot_date", days)
    (missing_ids,) = con.execute(MISSING_IDS_SQL).fetchall()[0]
    window = {"start": days[0], "end": days[-1], "id_regex": id_regex}
    figures = figures_by_day(con, FIGURES_SQL, window, days)
    results = []
    for day in days:
        f = figures[day]
        duplicates, no_plan, bad_ids = (int(f.get(k) or 0) for k in ("duplicates", "no_plan", "bad_ids"))
        metadata = {
            "dagster/row_count": rows[day],
            "users": rows[day],
            "signups_that_day": int(f.get("signups") or 0),
        }
        if day == detail_day(days):
            plans = con.execute(PLANS_SQL, [day, day]).fetchall()
            metadata["by_plan"] = markdown_table(["plan", "users", "signed up that day", "not active"], plans)
        results.append(
            DayResult(
                day,
                metadata=metadata,
                checks={
                    "user_ids_unique": Check(duplicates == 0, {"duplicates": duplicates}),
                    "user_ids_present": Check(missing_ids == 0, {"rows_without_user_id": int(missing_ids)}),
                    "plans_present": Check(no_plan == 0, {"without_plan": no_plan}),
                    "user_ids_match_key_pattern": Check(
                        bad_ids == 0, {"non_matching_ids": bad_ids}, severity=dg.AssetCheckSeverity.WARN
                    ),
                },
            )
        )
    return results


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
        results = load_window(con, days, id_regex)
        con.unregister("users_frame")
    return window_result(results)
