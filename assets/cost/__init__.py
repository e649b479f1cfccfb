"""The cost layer: the bill split over users (reconciled exactly), plan margins and quota use."""

from assets.cost.plan_daily_margin import plan_daily_margin
from assets.cost.user_daily_cost import user_daily_cost
from assets.cost.user_quota_use import user_quota_use

COST_ASSETS = [user_daily_cost, plan_daily_margin, user_quota_use]
