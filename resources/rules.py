"""The rules file: thresholds for abuse flags, anomaly scores and service anomalies, alert rules and
routing (design §7, §8)."""

import dagster as dg

from bucketlens.alerts.rules import Alerting, load_rules_file
from bucketlens.anomaly import Rules, RulesError, load_rules


class RulesFileError(RulesError, dg.Failure):
    """A bad rules file inside Dagster.

    As a ``dg.Failure`` it fails an asset with the errors as its description (one line each, rule and
    field named) instead of a traceback; as a ``RulesError`` (a ValueError) the sensors catch it and
    skip with the same text, and the command line prints it.
    """

    def __init__(self, errors, source: str = ""):
        errors = [errors] if isinstance(errors, str) else list(errors)
        where = f"The rules file {source}" if source else "The rules file"
        dg.Failure.__init__(self, f"{where} is invalid:\n" + "\n".join(errors), allow_retries=False)
        RulesError.__init__(self, errors, source)


class RulesFile(dg.ConfigurableResource):
    path: str = ""  # empty: the defaults shipped with bucketlens (bucketlens/anomaly/default_rules.yaml)

    def load(self) -> Rules:
        """Validated thresholds; a bad file raises ``RulesFileError`` naming every bad rule and field."""
        try:
            return load_rules(self.path or None)
        except RulesError as exc:
            raise RulesFileError(exc.errors, exc.source) from None

    def alerting(self) -> Alerting:
        """Validated alert rules and routing; the thresholds are checked too (it is one file), and a bad
        file's errors in both parts are reported together."""
        try:
            return load_rules_file(self.path or None)[1]
        except RulesError as exc:
            raise RulesFileError(exc.errors, exc.source) from None
