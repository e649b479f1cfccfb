"""``python -m benchmarks.engines`` on a tiny day, DuckDB only (the Spark side is opt-in: it takes minutes)."""

import json

from benchmarks.engines import main


def test_engines_bench_reports_rows_per_cpu_second(tmp_path):
    out = tmp_path / "figures.json"
    argv = [
        "--objects",
        "20k",
        "--requests",
        "10k",
        "--users",
        "50",
        "--no-spark",
        "--workdir",
        str(tmp_path),
    ]
    assert main([*argv, "--json", str(out)]) == 0
    storage, requests = json.loads(out.read_text())["throughput"]
    assert (storage["query"], storage["engine"], storage["input_rows"]) == (
        "user_daily_storage",
        "duckdb threads=1",
        20_000,
    )
    assert (requests["query"], requests["input_rows"]) == ("user_daily_requests", 10_000)
    assert storage["rows_per_cpu_second"] > 0 and requests["cpu_seconds"] >= 0
