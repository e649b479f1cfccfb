"""A real local Spark session, started once per test worker (a JVM start costs ~10 s), and a warehouse
holding the tiny generated month's raw layer, which the engines' queries read."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest

from assets.raw import RAW_ASSETS


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """The process's local Spark session (``local[2]``, UI and driver on 127.0.0.1), stopped at the end."""
    pytest.importorskip("pyspark", reason="pyspark is installed by scripts/setup.sh --dev")
    from bucketlens.engines.spark import SparkEngine

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = SparkEngine(lake=tmp_path_factory.mktemp("lake")).session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def raw_warehouse(tiny_source, tmp_path_factory):
    """BUCKETLENS_HOME whose warehouse holds the tiny month's raw tables (one run over its 10 days)."""
    from tests.assets.raw_helpers import failure_messages, materialize_range

    home = tmp_path_factory.mktemp("engines-home")
    days = [tiny_source.start + timedelta(days=i) for i in range(tiny_source.days)]
    result = materialize_range(home, tiny_source.root, tiny_source.users_db, days, RAW_ASSETS)
    assert result.success, failure_messages(result)
    return home
