"""Log objects are read whole and split into lines by DuckDB: control characters stay in their
field, and every object's lines are numbered from 1, whatever came before it."""

from __future__ import annotations

import datetime

from bucketlens.formats.access_log import stage_access_logs
from bucketlens.keys import KeyPattern

DAY = datetime.date(2026, 10, 1)
GOOD = (
    "o photos [01/Oct/2026:10:00:00 +0000] 192.0.2.1 req {rid} REST.GET.OBJECT users/7/a.jpg "
    '"GET /photos/users/7/a.jpg HTTP/1.1" 200 - 10 10 1 1 "-" "{ua}" - H SigV4 C AuthHeader host TLSv1.3'
)


def _load(con, tmp_path, ua: str):
    lines = [
        GOOD.format(rid="R1", ua="app"),
        "",
        "garbage",
        GOOD.format(rid="R2", ua=ua),
        "  ",
        GOOD.format(rid="R1", ua="app"),
    ]
    path = tmp_path / "log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load = stage_access_logs(con, [("access-logs/x", str(path))], DAY, KeyPattern())
    staged = con.execute(
        "SELECT request_id, source_line, user_agent FROM stage_access_log_requests ORDER BY source_line"
    ).fetchall()
    quarantined = con.execute("SELECT line_number, reason FROM stage_access_log_quarantine").fetchall()
    return load, staged, quarantined


def test_a_control_character_changes_nothing_but_its_field(con, tmp_path):
    # chr(1) was the previous line reader's delimiter (it fell back to another reader for such a
    # file); the same lines with and without it load, number and quarantine identically
    fast = _load(con, tmp_path, "app")
    slow = _load(con, tmp_path, "a\x01b")
    for load, staged, quarantined in (fast, slow):
        assert (load.lines, load.parsed, load.quarantined, load.duplicates, load.rows) == (4, 3, 1, 1, 2)
        assert [(rid, line) for rid, line, _ in staged] == [("R1", 1), ("R2", 4)]
        assert quarantined == [(3, "line does not match the S3 server access-log format")]
    assert slow[1][1][2] == "a\x01b"


def test_lines_of_many_objects_are_numbered_within_their_own_object(con, tmp_path):
    files = []
    for n in range(3):
        path = tmp_path / f"log{n}"
        path.write_text(
            "\n".join(GOOD.format(rid=f"F{n}L{i}", ua="u") for i in range(1, 4)) + "\n", encoding="utf-8"
        )
        files.append((f"access-logs/{n}", str(path)))
    load = stage_access_logs(con, files, DAY, KeyPattern())
    assert load.rows == 9
    assert con.execute(
        "SELECT source_file, min(source_line), max(source_line), count(*) FROM stage_access_log_requests "
        "WHERE request_id LIKE 'F%L' || source_line GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("access-logs/0", 1, 3, 3), ("access-logs/1", 1, 3, 3), ("access-logs/2", 1, 3, 3)]
