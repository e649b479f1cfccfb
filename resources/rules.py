"""The rules file: thresholds for abuse flags, anomaly scores and service anomalies (design §7)."""

import dagster as dg

from bucketlens.anomaly import Rules, load_rules


class RulesFile(dg.ConfigurableResource):
    path: str = ""  # empty: the defaults shipped with bucketlens (bucketlens/anomaly/default_rules.yaml)

    def load(self) -> Rules:
        """Validated rules; a bad file fails with the rule and field named."""
        return load_rules(self.path or None)
