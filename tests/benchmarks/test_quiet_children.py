"""A benchmark child process prints its figures, not one Dagster beta notice per asset module."""

import subprocess
import sys


def test_a_benchmark_child_importing_the_assets_prints_no_beta_notice():
    code = "import benchmarks, assets.raw, assets.savings; print('imported')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"
    assert "BetaWarning" not in done.stderr
    # and the filter is that notice only: other warnings still reach the operator
    code = "import benchmarks, warnings; warnings.warn('kept', UserWarning)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "UserWarning: kept" in done.stderr
