"""Sensors: react to arriving or restated source data, deliver alerts, and watch bucketlens itself."""

from sensors.action_delivery import action_delivery_sensor
from sensors.alert_delivery import alert_delivery_sensor
from sensors.cost_exports import cost_export_sensor
from sensors.inventory_arrival import inventory_arrival_sensor
from sensors.run_failure import run_failure_alert_sensor
from sensors.source_freshness import source_freshness_sensor

SENSORS = [
    inventory_arrival_sensor,
    cost_export_sensor,
    alert_delivery_sensor,
    action_delivery_sensor,
    run_failure_alert_sensor,
    source_freshness_sensor,
]
