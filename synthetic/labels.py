"""``labels.jsonl``: the ground truth of injected anomalies, one JSON object a line:
``{"date", "user_id", "pattern", "details"}``. A user-day that crosses more than one rule (a rapid
upload is also a >100 GB day) gets one line per rule, so labels state every threshold crossed."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from synthetic.anomalies import Injection
from synthetic.population import Population

IMPLIED = {"rapid_upload": ["daily_upload_volume"]}


def label_records(
    injections: list[Injection],
    pop: Population,
    malformed_by_day: dict[date, int],
    extra: Iterable[dict] = (),
) -> list[dict]:
    """Labels sorted by date, pattern and user; ``extra``: records already shaped (the leak cases)."""
    out = list(extra)
    for inj in injections:
        uid = None if inj.user is None else str(pop.user_id[inj.user])
        out.append(
            {"date": inj.day.isoformat(), "user_id": uid, "pattern": inj.pattern, "details": inj.details}
        )
        for implied in IMPLIED.get(inj.pattern, []):
            out.append(
                {
                    "date": inj.day.isoformat(),
                    "user_id": uid,
                    "pattern": implied,
                    "details": {"implied_by": inj.pattern, **inj.details},
                }
            )
    for day, count in malformed_by_day.items():
        out.append(
            {
                "date": day.isoformat(),
                "user_id": None,
                "pattern": "malformed_log_line",
                "details": {"count": count},
            }
        )
    return sorted(out, key=lambda r: (r["date"], r["pattern"], r["user_id"] or ""))


def write_labels(path: Path, records: list[dict]) -> Path:
    """Write the labels file (empty when no anomalies were injected)."""
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    return path
