"""One logger for the command line and the assets: readable lines, or JSON for log aggregators.

Everything bucketlens says about its work goes through the ``bucketlens`` logger tree: the CLI's progress
(``bucketlens.cli``) and each asset's per-day figures (``bucketlens.assets``). Dagster captures the same
records into the run's event log (``python_logs.managed_python_loggers`` in ``dagster.yaml``), so the UI
shows them; outside Dagster, ``configure`` writes them to the console. With
``BUCKETLENS_LOG_FORMAT=json`` every record is one JSON object per line —
``{"ts", "level", "logger", "event", "message", <fields>}`` with fields such as ``asset``, ``day``,
``rows`` — which Loki, CloudWatch Logs or Datadog index without a parser.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

ROOT = "bucketlens"
FORMATS = ("text", "json")
_HANDLER_NAME = "bucketlens-console"


def get_logger(name: str) -> logging.Logger:
    """``bucketlens.<name>``: every logger of the project hangs below one root."""
    return logging.getLogger(f"{ROOT}.{name}")


def log_event(
    logger: logging.Logger, event: str, message: str, level: int = logging.INFO, **fields: Any
) -> None:
    """A record with a machine-readable ``event`` name and ``fields`` besides its human ``message``.

    Dagster's own start-up (``dagster._utils.log.configure_loggers``) calls ``logging.config.dictConfig``
    without ``disable_existing_loggers=False``, which silences every logger created before it; ours are
    module-level, so each record re-enables its logger rather than vanish."""
    logger.disabled = False
    logger.log(level, message, extra={"event": event, "fields": fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per record; values JSON cannot hold (dates, decimals) become text."""

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": getattr(record, "event", "message"),
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            body["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(body, default=str, ensure_ascii=False)


class _TextFilter(logging.Filter):
    """In text mode the console shows the CLI's lines and every warning; the assets' per-day INFO records
    are already summed up in the CLI's progress lines (and kept in full in Dagster's event log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(f"{ROOT}.assets")


def configure(log_format: str = "text", stream: TextIO | None = None) -> logging.Logger:
    """Send the ``bucketlens`` loggers to ``stream`` (stdout) as text or JSON; calling again replaces the
    handler (tests, or a CLI run after another in one process)."""
    if log_format not in FORMATS:
        raise ValueError(f"BUCKETLENS_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    root = logging.getLogger(ROOT)
    for handler in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(_HANDLER_NAME)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_TextFilter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False  # printed once, by this handler, whatever the process's root logger does
    return root
