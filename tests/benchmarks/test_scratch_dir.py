"""Where a benchmark's generated data lives: removed afterwards, or kept for profiling with --keep."""

from pathlib import Path

from benchmarks.__main__ import build_parser
from benchmarks.commands import scratch_dir


def test_scratch_data_is_removed_unless_kept(tmp_path):
    with scratch_dir("bench-", str(tmp_path / "work")) as gone:
        (Path(gone) / "warehouse.duckdb").write_text("x")
    with scratch_dir("bench-", str(tmp_path / "work"), keep=True) as kept:
        (Path(kept) / "warehouse.duckdb").write_text("x")
    assert not Path(gone).exists()
    assert (Path(kept) / "warehouse.duckdb").read_text() == "x"
    assert Path(kept).parent == tmp_path / "work"


def test_daily_accepts_keep():
    assert build_parser().parse_args(["daily", "--keep"]).keep is True
    assert build_parser().parse_args(["daily"]).keep is False
