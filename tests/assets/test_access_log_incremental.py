"""Incremental access logs: a rerun parses only new or changed log objects and still writes exactly
the rows (and quarantine) of a run that parses every object from scratch."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from tests.assets.raw_helpers import failure_messages, materialize_day, query

DAY_REQUESTS = "SELECT count(*), sum(hash(t)) FROM raw.access_log_requests t WHERE usage_date = ?"
DAY_QUARANTINE = (
    "SELECT file, line_number, raw_text, reason FROM raw.quarantine "
    "WHERE source = 'access_log_requests' AND partition_date = ? ORDER BY file, line_number"
)


@pytest.fixture
def source_copy(tiny_source, tmp_path):
    root = tmp_path / "source"
    shutil.copytree(tiny_source.root, root)
    return root


def _run(home, source, tiny, day) -> dict:
    from assets.raw import access_log_requests

    result = materialize_day(home, source, tiny.users_db, day, assets=[access_log_requests])
    assert result.success, failure_messages(result)
    (mat,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def _day(home, day) -> tuple:
    return query(home, DAY_REQUESTS, [day])[0], query(home, DAY_QUARANTINE, [day])


def _own_logs(root, day):
    return sorted(p for p in (root / "access-logs").rglob(f"{day.isoformat()}-*") if p.is_file())


def _corrupt(path, line: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(1, line + "\n")
    path.write_text("".join(lines))


def test_a_rerun_parses_nothing_and_writes_the_same_rows(tiny_source, tmp_path):
    day = tiny_source.start + timedelta(days=3)
    first = _run(tmp_path, tiny_source.root, tiny_source, day)
    before = _day(tmp_path, day)
    second = _run(tmp_path, tiny_source.root, tiny_source, day)
    assert first["log_objects_parsed_now"] == first["log_objects_read"] > 0
    assert first["lines_parsed_now"] == first["lines_read"] > 0
    assert second["log_objects_parsed_now"] == 0 and second["lines_parsed_now"] == 0
    assert second["log_objects_reused"] == second["log_objects_read"]
    assert second["lines_read"] == first["lines_read"] and second["rows"] == first["rows"]
    assert _day(tmp_path, day) == before and before[0][0] == first["rows"]


def test_a_late_object_is_parsed_alone_and_the_day_equals_a_full_parse(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=4)
    late = _own_logs(source_copy, day)[-1]
    parked = tmp_path / "parked"
    shutil.move(late, parked)
    incremental, full = tmp_path / "incremental", tmp_path / "full"
    # the next day's partition reads some of the same objects: they must be parsed once
    _run(incremental, source_copy, tiny_source, day + timedelta(days=1))
    without = _run(incremental, source_copy, tiny_source, day)
    shutil.move(parked, late)
    with_late = _run(incremental, source_copy, tiny_source, day)
    reference = _run(full, source_copy, tiny_source, day)

    assert with_late["log_objects_parsed_now"] == 1
    assert with_late["rows"] > without["rows"]
    assert without["log_objects_parsed_now"] < without["log_objects_read"]  # shared with the next day
    assert with_late["rows"] == reference["rows"]
    assert with_late["duplicates_removed"] == reference["duplicates_removed"]
    assert with_late["records_of_other_days"] == reference["records_of_other_days"]
    assert _day(incremental, day) == _day(full, day)


def test_a_replaced_object_is_reparsed_and_its_quarantine_is_not_duplicated(
    tiny_source, source_copy, tmp_path
):
    day = tiny_source.start + timedelta(days=5)
    target = _own_logs(source_copy, day)[0]
    key = target.relative_to(source_copy).as_posix()
    _run(tmp_path, source_copy, tiny_source, day)
    _corrupt(target, 'not a log line "open quote')
    replaced = _run(tmp_path, source_copy, tiny_source, day)
    again = _run(tmp_path, source_copy, tiny_source, day)
    full = tmp_path / "full"
    _run(full, source_copy, tiny_source, day)

    assert replaced["log_objects_parsed_now"] == 1 and again["log_objects_parsed_now"] == 0
    bad = query(
        tmp_path,
        "SELECT file, line_number FROM raw.quarantine WHERE source = 'access_log_requests' "
        "AND raw_text LIKE 'not a log line%'",
    )
    assert bad == [(key, 2)]
    assert query(tmp_path, "SELECT count(*) FROM raw.access_log_objects WHERE key = ?", [key]) == [(1,)]
    assert _day(tmp_path, day) == _day(full, day)
    # the records of the replaced object are its new content: line numbers shifted by the new line
    numbering = "SELECT count(*), max(source_line) FROM raw.access_log_records WHERE source_file = ?"
    assert query(tmp_path, numbering, [key]) == query(full, numbering, [key])


def test_records_parsed_by_another_parser_are_parsed_again(tiny_source, tmp_path, monkeypatch):
    from assets.raw import log_ledger as ledger

    day = tiny_source.start + timedelta(days=2)
    first = _run(tmp_path, tiny_source.root, tiny_source, day)
    before = _day(tmp_path, day)
    monkeypatch.setattr(ledger, "parser_fingerprint", lambda service: "another-grammar")
    second = _run(tmp_path, tiny_source.root, tiny_source, day)
    assert second["log_objects_parsed_now"] == first["log_objects_read"]
    assert _day(tmp_path, day) == before


def _parse_delivered(home, source, tiny, day) -> dict:
    from assets.raw import access_log_objects

    result = materialize_day(home, source, tiny.users_db, day, assets=[access_log_objects])
    assert result.success, failure_messages(result)
    (mat,) = result.get_asset_materialization_events()
    (check,) = result.get_asset_check_evaluations()
    assert check.passed
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def test_hourly_parsing_leaves_the_daily_run_only_the_late_objects(tiny_source, source_copy, tmp_path):
    day = tiny_source.start + timedelta(days=4)
    own = _own_logs(source_copy, day)
    later = own[len(own) // 2 :]
    parked = tmp_path / "parked"
    parked.mkdir()
    for path in later:
        shutil.move(path, parked / path.name)
    morning = _parse_delivered(tmp_path, source_copy, tiny_source, day)  # the hourly run at noon
    for path in later:
        shutil.move(parked / path.name, path)
    evening = _parse_delivered(tmp_path, source_copy, tiny_source, day)  # the last hourly run
    daily = _run(tmp_path, source_copy, tiny_source, day)
    reference = _run(tmp_path / "full", source_copy, tiny_source, day)

    assert morning["log_objects_delivered"] == morning["log_objects_parsed_now"] == len(own) - len(later)
    assert evening["log_objects_delivered"] == len(own) and evening["log_objects_parsed_now"] == len(later)
    assert evening["records"] > morning["records"] > 0
    # the daily run parses only the next morning's objects that can still hold the day's requests
    assert daily["log_objects_parsed_now"] == daily["log_objects_read"] - len(own) > 0
    assert daily["lines_parsed_now"] == daily["lines_read"] - evening["lines"]
    assert _day(tmp_path, day) == _day(tmp_path / "full", day) and daily["rows"] == reference["rows"]
