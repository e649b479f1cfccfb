"""Benchmarks behind ``bucketlens bench``: the data they set up and the baselines they are measured against.

Why a package: design §10 promises ratios against a naive pandas implementation run on the same data in
the same run, and "numbers in docs come from a command anyone can rerun". The setup, the baseline and
the comparison live here (importable and testable at small scale); ``benchmarks.commands`` only times child
processes and prints the report.
"""

import warnings

# Every benchmark child process imports the assets, and Dagster 1.13 marks their BackfillPolicy as beta:
# one notice per asset module on the bench's output, for operators reading figures (the CLI filters the
# same notice in ``pipelines.cli.main``; a child started with ``python -m benchmarks.…`` does not inherit it).
warnings.filterwarnings(
    "ignore", message=r"Parameter `backfill_policy` of function `asset` is currently in beta"
)
