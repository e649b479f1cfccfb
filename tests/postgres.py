"""A real PostgreSQL 15 server for the test session, and a fresh database per test.

The suite starts the server itself (Debian's ``initdb``/``pg_ctl`` in ``/usr/lib/postgresql/15/bin``,
or ``$BUCKETLENS_PG_BIN``) in a temporary data directory, listening on 127.0.0.1 at a free port and on a
unix socket in that directory, with ``fsync=off`` (a test server has nothing to keep). PostgreSQL refuses
to run as root: as root, the directory belongs to the ``postgres`` user and the binaries run through
``runuser -u postgres --``. Missing binaries FAIL the tests that need the server, naming what to install:
a skipped PostgreSQL test would hide exactly what this suite exists to check.

Fixtures: ``postgres_server`` (session), ``postgres_url`` (a new database per test, dropped after) and
``alert_db_url``, parametrized over ``sqlite`` and ``postgresql`` for tests that must hold on both.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_BIN = Path(os.environ.get("BUCKETLENS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
START_TIMEOUT_S = 60
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{database}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    """``argv`` run as the ``postgres`` user when we are root (the server refuses root), else as is."""
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if done.returncode != 0:
        pytest.fail(
            f"PostgreSQL {what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
        )


def start_server() -> PostgresServer:
    missing = [tool for tool in ("initdb", "pg_ctl") if not (PG_BIN / tool).exists()]
    if missing:
        pytest.fail(
            f"PostgreSQL 15 server binaries not found in {PG_BIN} ({', '.join(missing)} missing): "
            "install them (`apt-get install -y postgresql-15`) or set BUCKETLENS_PG_BIN"
        )
    root = Path(tempfile.mkdtemp(prefix="bucketlens-pg-"))  # under /tmp: the postgres user can reach it
    if os.geteuid() == 0:
        shutil.chown(root, user=PG_USER, group=PG_USER)
    data = root / "data"
    _run([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync"], "initdb")  # fmt: skip
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"  # fmt: skip
    _run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "-t", str(START_TIMEOUT_S), "start"], "start")  # fmt: skip
    return PostgresServer("127.0.0.1", port, data)


def stop_server(server: PostgresServer) -> None:
    subprocess.run(
        _as_server_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "-w", "stop"]
        ),
        capture_output=True,
        timeout=START_TIMEOUT_S,
    )
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run, started on first use and stopped at the end."""
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


def create_database(server: PostgresServer) -> str:
    """A new, empty database on ``server``; its SQLAlchemy URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return server.url(name)


def drop_database(server: PostgresServer, url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (``postgresql+psycopg://…``), dropped afterwards."""
    url = create_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


@pytest.fixture(params=DATABASES)
def alert_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The alert database on SQLite (a file) and on the real PostgreSQL server: each test runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'outbox.sqlite'}"
    return request.getfixturevalue("postgres_url")


def database_name(url: str) -> str:
    """``sqlite`` or ``postgresql``: the fault table's database column."""
    return sa.engine.make_url(url).get_backend_name()
