"""The service's own user database, read through SQLAlchemy.

bucketlens never assumes the service's schema: one configurable query maps it onto
``user_id, plan, quota_bytes, created_at, status``. SQLite serves the demo; PostgreSQL works by URL.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import sqlalchemy as sa

REQUIRED_COLUMNS = ("user_id", "plan", "quota_bytes", "created_at", "status")


class UsersQueryError(ValueError):
    """The users query does not return the five columns bucketlens needs."""


class UsersDatabase(dg.ConfigurableResource):
    url: str
    query: str = "SELECT user_id, plan, quota_bytes, created_at, status FROM users"

    def fetch_users(self) -> pd.DataFrame:
        """All users, typed: the user table is small (thousands to millions of rows), one query."""
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                frame = pd.read_sql_query(sa.text(self.query), conn)
        finally:
            engine.dispose()
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise UsersQueryError(
                f"users query must return columns {', '.join(REQUIRED_COLUMNS)}; missing {', '.join(missing)} "
                f"(got {', '.join(frame.columns)}). Set BUCKETLENS_USERS_QUERY to map your schema."
            )
        frame = frame[list(REQUIRED_COLUMNS)].copy()
        frame["user_id"] = frame["user_id"].astype(str)
        # Services store timestamps however their ORM did over the years: parse each value on its own.
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="mixed").dt.tz_localize(
            None
        )
        return frame

    def describe(self) -> str:
        """The URL without its password, for logs and metadata."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)
