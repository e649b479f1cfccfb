"""The usage layer: per-user storage and requests, and the service's daily health, from the raw layer."""

from assets.usage.service_daily_cdn import service_daily_cdn
from assets.usage.service_daily_metrics import service_daily_metrics
from assets.usage.user_daily_cdn import user_daily_cdn
from assets.usage.user_daily_requests import user_daily_requests
from assets.usage.user_daily_storage import user_daily_storage

USAGE_ASSETS = [
    user_daily_storage,
    user_daily_requests,
    service_daily_metrics,
    user_daily_cdn,
    service_daily_cdn,
]
