"""One logger, text or JSON (issue 15, item 6)."""

import io
import json
import logging

from bucketlens.logs import configure, get_logger, log_event


def test_json_lines_carry_event_and_fields():
    out = io.StringIO()
    configure("json", out)
    log_event(
        get_logger("assets"),
        "asset_day",
        "user_daily_cost 2026-10-02",
        asset="user_daily_cost",
        day="2026-10-02",
        rows=41,
    )
    record = json.loads(out.getvalue())
    assert {k: record[k] for k in ("level", "logger", "event", "asset", "day", "rows")} == {
        "level": "info", "logger": "bucketlens.assets", "event": "asset_day",
        "asset": "user_daily_cost", "day": "2026-10-02", "rows": 41,
    }  # fmt: skip
    assert record["message"] == "user_daily_cost 2026-10-02"


def test_text_mode_shows_cli_lines_and_warnings_not_the_assets_daily_figures():
    out = io.StringIO()
    configure("text", out)
    log_event(get_logger("cli"), "day_done", "[  1/1] 2026-10-02 ok")
    log_event(get_logger("assets"), "asset_day", "inventory_objects 2026-10-02", rows=3)
    log_event(get_logger("assets"), "quarantine", "12 lines quarantined", logging.WARNING)
    assert out.getvalue().splitlines() == ["[  1/1] 2026-10-02 ok", "12 lines quarantined"]


def test_configuring_twice_keeps_one_handler():
    out = io.StringIO()
    configure("text", io.StringIO())
    configure("text", out)
    log_event(get_logger("cli"), "x", "once")
    assert out.getvalue() == "once\n"


def test_a_library_reconfiguring_logging_does_not_silence_us():
    """Dagster's start-up calls ``logging.config.dictConfig`` with ``disable_existing_loggers`` left on,
    which disabled the module-level loggers: the CLI's lines vanished mid-suite."""
    import logging.config

    out = io.StringIO()
    configure("text", out)
    logging.config.dictConfig({"version": 1})
    log_event(get_logger("cli"), "day_done", "still printed")
    assert out.getvalue() == "still printed\n"
