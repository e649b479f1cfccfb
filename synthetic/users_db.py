"""The service's own user database (SQLite through SQLAlchemy, as production uses PostgreSQL through
the same API), holding the columns bucketlens's default users query selects plus an email."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from synthetic.population import Population

metadata = sa.MetaData()
users_table = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("quota_bytes", sa.Integer, nullable=False),
    sa.Column("created_at", sa.TIMESTAMP, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
)


def write_users_db(path: Path, pop: Population, absent: Collection[int] = ()) -> Path:
    """(Re)create ``users.sqlite`` with one row per user, except the ``absent`` ones (user indexes the
    service removed from its database while their files stayed: ``synthetic.savings_cases``)."""
    path.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        metadata.create_all(engine)
        left_out = {int(i) for i in absent}
        rows = [
            {
                "user_id": str(pop.user_id[i]),
                "plan": str(pop.plan[i]),
                "quota_bytes": int(pop.quota_bytes[i]),
                "created_at": datetime.fromtimestamp(int(pop.signup[i]), UTC).replace(tzinfo=None),
                "status": str(pop.status[i]),
                "email": str(pop.email[i]),
            }
            for i in range(pop.size)
            if i not in left_out
        ]
        with engine.begin() as conn:
            conn.execute(users_table.insert(), rows)
    finally:
        engine.dispose()
    return path
