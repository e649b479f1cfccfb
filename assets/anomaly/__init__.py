"""The anomaly layer: abuse flags, per-user anomaly scores and service anomalies, with evidence."""

from assets.anomaly.abuse_flags import abuse_flags
from assets.anomaly.service_anomalies import service_anomalies
from assets.anomaly.user_anomaly_scores import user_anomaly_scores

ANOMALY_ASSETS = [user_anomaly_scores, abuse_flags, service_anomalies]
