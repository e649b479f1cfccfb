"""The service's own user database, read through SQLAlchemy.

bucketlens never assumes the service's schema: one configurable query maps it onto
``user_id, plan, quota_bytes, created_at, status``. SQLite serves the demo; PostgreSQL works by URL.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from bucketlens.settings import default

REQUIRED_COLUMNS = ("user_id", "plan", "quota_bytes", "created_at", "status")


class UsersQueryError(ValueError):
    """The users query does not return the five columns bucketlens needs."""


def user_ids_as_text(ids: pd.Series) -> pd.Series:
    """User ids as text, a NULL staying NULL (None), never the text ``"None"`` or ``"nan"``: a missing id
    is a fact the ``users`` asset's checks report, not a user called None.

    Integer ids with a NULL among them arrive as floats (``1042.0``): they are ints again first.
    """
    if pd.api.types.is_float_dtype(ids) and ids.dropna().mod(1).eq(0).all():
        ids = ids.astype("Int64")
    return ids.astype("string").astype(object).where(ids.notna(), None)


class UsersDatabase(dg.ConfigurableResource):
    url: str
    query: str = default("users_query")

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
        frame["user_id"] = user_ids_as_text(frame["user_id"])
        # Services store timestamps however their ORM did over the years: parse each value on its own.
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="mixed").dt.tz_localize(
            None
        )
        return frame

    def describe(self) -> str:
        """The URL without its password, for logs and metadata."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)
