"""A benchmark child process prints its figures, not one Dagster beta notice per asset module."""

import subprocess
import sys


def test_a_benchmark_child_importing_the_assets_prints_no_beta_notice_and_keeps_other_warnings():
    # one child, as a benchmark child starts: `benchmarks` first, then the assets; and the filter is that
    # notice only — another warning still reaches the operator
    code = (
        "import warnings, benchmarks, assets.raw, assets.savings\n"
        "warnings.warn('kept', UserWarning)\n"
        "print('imported')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"
    assert "BetaWarning" not in done.stderr
    assert "UserWarning: kept" in done.stderr
