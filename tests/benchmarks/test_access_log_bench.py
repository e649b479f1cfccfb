"""The access-log benchmark at a tiny size: generated logs hold what they claim, and bucketlens, the
naive pandas baseline and the floor agree on them."""

from __future__ import annotations

from datetime import date

from benchmarks.access_log import run_bucketlens, run_floor, run_pandas
from benchmarks.access_log_data import DUPLICATE_EVERY, generate_access_logs
from benchmarks.suite import parse_size

DAY = date(2026, 10, 1)


def test_parse_size():
    assert (parse_size("1M"), parse_size("500k"), parse_size("2000"), parse_size("1.5M")) == (
        1_000_000, 500_000, 2000, 1_500_000)  # fmt: skip


def test_generated_logs_parse_the_same_in_bucketlens_and_pandas(tmp_path):
    records = 6_000
    logs = generate_access_logs(tmp_path / "src", DAY, records, lines_per_object=2_500)
    repeats = len(range(7, records, DUPLICATE_EVERY))  # none of them is also a broken line here
    assert (len(logs.files), logs.lines, logs.malformed) == (3, records + repeats, 2)
    ours = run_bucketlens(tmp_path / "src", DAY, tmp_path, "500MB")
    theirs = run_pandas(tmp_path / "src", DAY)
    floor = run_floor(tmp_path / "src")
    assert floor["lines"] == ours["lines"] == theirs["lines"] == logs.lines
    assert ours["cpu_seconds"] > 0 and floor["cpu_seconds"] > 0
    assert ours["quarantined"] == logs.malformed
    # a repeat of a record of a neighbouring day is not one of the day's duplicates (~2 % of 30)
    assert repeats - 3 <= ours["duplicates"] <= repeats
    assert ours["result"] == theirs["result"]
    # ~2 % of records are of the neighbouring days; the rest are the day's, each once
    assert ours["result"]["rows"] == logs.lines - logs.malformed - ours["outside_day"] - ours["duplicates"]
    assert 0.01 * records < ours["outside_day"] < 0.03 * records


def test_suite_table_prints_lines_per_second_ratios_and_the_target():
    from benchmarks.suite import suite_table

    case = {
        "lines": 1_005_000,
        "bucketlens": {
            "seconds": 1.25,
            "cpu_seconds": 2.01,
            "lines_per_second": 804_000,
            "peak_rss_mib": 760.0,
        },
        "pandas": {"seconds": 26.27, "peak_rss_mib": 2943.0},
        "floor": {"seconds": 0.27},
        "floor_ratio": 4.63,
        "pandas_ratio": 0.0476,
        "agree": True,
        "target_met": False,
        "target_lines_per_second": 1_000_000,
    }
    lines = suite_table(
        {"load_before": "0.5", "load_after": "0.7", "cores": 2, "inventory": [], "access_log": [case]}
    )
    row, note = lines.splitlines()[3:5]
    # lines/s, then bucketlens / floor = 4.63x and bucketlens / pandas = 0.048x, results equal
    assert row.split() == ["access-log", "1,005,000", "lines", "1.25", "804,000", "760", "26.27", "2,943",
                           "0.27", "4.63x", "0.048x", "yes"]  # fmt: skip
    # with the CPU time and the cores: what this much work a line allows at best
    assert note == (
        "  note: access-log 1,005,000 lines: 804,000 lines/s, target >= 1,000,000 lines/s missed; peak RSS 760 MiB"
        "; 2.0 CPU s, 2.00 µs a line: on 2 cores at most 1,000,000 lines/s for this work"
    )
