"""The raw layer: each source in AWS's own format, loaded into the warehouse's ``raw`` schema."""

from assets.raw.access_log_objects import access_log_objects
from assets.raw.access_log_requests import access_log_requests
from assets.raw.cdn_requests import cdn_requests
from assets.raw.cloudwatch_metrics import cloudwatch_metrics
from assets.raw.cost_line_items import cost_line_items
from assets.raw.inventory_objects import inventory_objects
from assets.raw.users import users

RAW_ASSETS = [
    inventory_objects,
    access_log_objects,
    access_log_requests,
    cdn_requests,
    cloudwatch_metrics,
    cost_line_items,
    users,
]
