"""Anomaly scores, abuse flags and service anomalies (design §5, §7), as pure DuckDB detectors.

Each detector takes a connection, a day (or a window of days: ``*_window``, the set-based form a
backfill uses) and table names and creates a TEMP table of its findings, so
the Dagster assets decide where results are stored and tests can run the detectors on tiny tables.
``evaluation`` measures them against the synthetic generator's labels.
"""

from bucketlens.anomaly.abuse import stage_abuse_flags, stage_abuse_flags_window
from bucketlens.anomaly.evaluation import Evaluation, evaluate, run_detectors
from bucketlens.anomaly.rules import Rules, RulesError, load_rules
from bucketlens.anomaly.scores import stage_user_anomaly_scores, stage_user_anomaly_scores_window
from bucketlens.anomaly.service import stage_service_anomalies, stage_service_anomalies_window
from bucketlens.anomaly.sources import DEFAULT_SOURCES, Sources

__all__ = [
    "DEFAULT_SOURCES",
    "Evaluation",
    "Rules",
    "RulesError",
    "Sources",
    "evaluate",
    "load_rules",
    "run_detectors",
    "stage_abuse_flags",
    "stage_abuse_flags_window",
    "stage_service_anomalies",
    "stage_service_anomalies_window",
    "stage_user_anomaly_scores",
    "stage_user_anomaly_scores_window",
]
