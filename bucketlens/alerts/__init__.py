"""Alerting: rules → alert state → notifications → a durable outbox → Slack (design §7, §8)."""
