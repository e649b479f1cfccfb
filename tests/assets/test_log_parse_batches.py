"""A window's new log objects are parsed in calls sized by DuckDB's memory limit, and the records, bad
lines and ledger rows are the same however many calls it takes."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from tests.assets.raw_helpers import failure_messages, materialize_day, query

# What a parse leaves behind, compared whole (every column of every record, bad line and ledger row).
RECORDS = "SELECT count(*), sum(hash(r)) FROM raw.access_log_records r"
QUARANTINE = "SELECT file, line_number, raw_text, reason FROM raw.access_log_object_quarantine ORDER BY file, line_number"
LEDGER = (
    "SELECT key, size, lines, records, quarantined, first_request_time, last_request_time "
    "FROM raw.access_log_objects ORDER BY key"
)


def _limit(setting: str) -> int | None:
    from bucketlens.duckdb_options import memory_limit_bytes

    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = ?", [setting])
        return memory_limit_bytes(con)
    finally:
        con.close()


def test_memory_limit_in_bytes_as_duckdb_shows_it():
    assert _limit("700MB") == int(667.5 * 2**20)  # DuckDB shows "667.5 MiB"
    assert _limit("2GB") == int(1.8 * 2**30)  # "1.8 GiB"
    assert _limit("50KB") == int(48.8 * 2**10)  # "48.8 KiB"


def test_a_limit_duckdb_shows_otherwise_leaves_the_fixed_budget(monkeypatch):
    from assets.raw import log_ledger as ledger

    class Shown:
        def __init__(self, text):
            self.text = text

        def execute(self, *_):
            return self

        def fetchall(self):
            return [(self.text,)]

    assert ledger.parse_batch_bytes(Shown("unlimited")) == ledger.PARSE_BATCH_BYTES
    assert ledger.parse_batch_bytes(Shown("16.0 GiB")) == ledger.PARSE_BATCH_BYTES  # the cap
    assert ledger.parse_batch_bytes(Shown("667.5 MiB")) == int(
        667.5 * 2**20 * ledger.PARSE_BATCH_MEMORY_SHARE
    )


@pytest.fixture
def parse_calls(monkeypatch):
    """The number of objects of each parse call."""
    from assets.raw import log_ledger as ledger

    calls: list[int] = []
    original = ledger._parse_batch

    def counted(con, new, *args, **kwargs):
        calls.append(len(new))
        return original(con, new, *args, **kwargs)

    monkeypatch.setattr(ledger, "_parse_batch", counted)
    return calls


def _parse(home, tiny, day) -> dict:
    from assets.raw import access_log_objects

    result = materialize_day(home, tiny.root, tiny.users_db, day, assets=[access_log_objects])
    assert result.success, failure_messages(result)
    (mat,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def _state(home) -> tuple:
    return query(home, RECORDS), query(home, QUARANTINE), query(home, LEDGER)


def test_a_day_parsed_in_calls_sized_by_the_memory_limit_equals_one_call(
    tiny_source, tmp_path, monkeypatch, parse_calls
):
    from assets.raw import log_ledger as ledger
    from bucketlens.settings import Settings

    day = tiny_source.start + timedelta(days=3)
    whole = _parse(tmp_path / "whole", tiny_source, day)
    assert parse_calls == [whole["log_objects_parsed_now"]]  # a small day: one call under the default limit

    # A share of the warehouse's limit that holds about a third of the day's logs: three or four calls.
    day_bytes = sum(query(tmp_path / "whole", "SELECT sum(size) FROM raw.access_log_objects")[0])
    limit = _limit(Settings().duckdb_memory_limit)
    monkeypatch.setattr(ledger, "PARSE_BATCH_MEMORY_SHARE", day_bytes / 3 / limit)
    parse_calls.clear()
    split = _parse(tmp_path / "split", tiny_source, day)

    assert 3 <= len(parse_calls) <= 4 and sum(parse_calls) == whole["log_objects_parsed_now"]
    assert split["lines_parsed_now"] == whole["lines_parsed_now"] > 0
    records, quarantine, ledger_rows = _state(tmp_path / "split")
    assert (records, quarantine, ledger_rows) == _state(tmp_path / "whole")
    assert records[0][0] > 0 and quarantine and len(ledger_rows) == whole["log_objects_parsed_now"]
