"""The alerts layer: rule evaluations → alert state → notifications in the outbox (design §7, §8)."""

from assets.alerts.alert_events import alert_events

ALERT_ASSETS = [alert_events]
