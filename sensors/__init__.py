"""Sensors: react to arriving or restated source data, deliver alerts, and watch bucketlens itself."""

from sensors.cost_exports import cost_export_sensor
from sensors.inventory_arrival import inventory_arrival_sensor

SENSORS = [inventory_arrival_sensor, cost_export_sensor]
