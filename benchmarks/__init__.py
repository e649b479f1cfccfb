"""Benchmarks behind ``bucketlens bench``: the data they set up and the baselines they are measured against.

Why a package: design §10 promises ratios against a naive pandas implementation run on the same data in
the same run, and "numbers in docs come from a command anyone can rerun". The setup, the baseline and
the comparison live here (importable and testable at small scale); ``benchmarks.commands`` only times child
processes and prints the report.
"""
