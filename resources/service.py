"""How the service maps its bucket onto users: the key pattern, and how late access logs may arrive."""

from __future__ import annotations

import dagster as dg

from bucketlens.keys import DEFAULT_KEY_PATTERN, DEFAULT_USER_ID_REGEX, KeyPattern
from bucketlens.settings import default


class ServiceLayout(dg.ConfigurableResource):
    key_pattern: str = DEFAULT_KEY_PATTERN
    user_id_regex: str = DEFAULT_USER_ID_REGEX
    log_lateness_hours: int = default("log_lateness_hours")

    def ownership(self) -> KeyPattern:
        """The key pattern that maps object keys to their owners."""
        return KeyPattern(self.key_pattern, self.user_id_regex)
