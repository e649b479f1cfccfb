"""The savings layer: what users' storage could stop costing — storage-class recommendations, leaks,
and the weekly "top savings" digest."""

from assets.savings.storage_leaks import storage_leaks
from assets.savings.storage_recommendations import storage_recommendations
from assets.savings.weekly_savings_digest import weekly_savings_digest

SAVINGS_ASSETS = [storage_recommendations, storage_leaks, weekly_savings_digest]
