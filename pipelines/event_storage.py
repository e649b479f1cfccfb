"""Dagster's SQLite event log, with one open connection per database file instead of one per event.

Why: the stock ``SqliteEventLogStorage`` creates an engine, opens a connection, commits with a full
``fsync`` and closes it (the last close of a WAL database checkpoints it: more ``fsync``s) for every event,
and an event about an asset is written twice (the run's file and the index). A 35-day demo stores ~3,900
events, and that alone took ~80 s of a ~390 s demo on a loaded machine (cProfile: ``sqlite3`` ``commit``
36 s, ``close`` 32 s, ``execute`` 12 s). Here the files, tables and rows are Dagster's own (the UI and the
daemon read them with the stock class); only the connection handling differs:

- an engine per file, kept open for the process, so a commit no longer closes (and checkpoints) the file;
  SQLite checkpoints the WAL itself every 1,000 pages, and readers in other processes see every commit;
- which tables the index holds is remembered once a table is there (the stock ``has_table`` opens a new
  engine on the file for every asset event: 0.9 s of the demo), and forgotten by ``wipe`` and ``upgrade``;
- ``PRAGMA synchronous = NORMAL``: in WAL mode a commit is then written but not ``fsync``ed; the database
  can never be corrupted by a crash, but a power loss may drop the last commits of run history. The
  warehouse's data does not depend on it (DuckDB has its own log); a lost event only makes a run's
  history in the UI shorter.

Only ``bucketlens run`` / ``demo`` use it (``pipelines.instance.cli_instance``), only when the instance's
event log is the stock SQLite one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy.engine import Connection


def _synchronous_normal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` keeping one engine (and its pooled connection) per shard file."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: dict[str, db.engine.Engine] = {}
        self._tables_present: set[str] = set()
        super().__init__(base_dir, inst_data)

    def has_table(self, table_name: str) -> bool:
        """Asked before every asset event's tags are written; a table, once there, stays."""
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    def _engine(self, shard: str) -> db.engine.Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = db.create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            db.event.listen(engine, "connect", _synchronous_normal)
            self._engines[shard] = engine
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def _dispose_engines(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()

    def wipe(self) -> None:
        self._dispose_engines()  # the run files are deleted: no connection may keep them open
        self._tables_present.clear()
        super().wipe()

    def upgrade(self) -> None:
        super().upgrade()
        self._dispose_engines()
        self._tables_present.clear()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
