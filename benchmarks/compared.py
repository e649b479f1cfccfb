"""The columns the attribution benchmark compares between the warehouse and the naive pandas baseline.

Why a module of its own: both sides (``benchmarks.attribution``, ``benchmarks.naive_pandas``) name the
same figures, and the baseline must not import the warehouse side (it measures its own memory).
"""

# usage.user_daily_storage's figures per user and storage class
STORAGE_VALUES = (
    "object_count",
    "bytes",
    "byte_hours",
    "bytes_added",
    "duplicate_bytes",
    "noncurrent_bytes",
    "small_object_count",
)
# cost.user_daily_cost's key: one amount per user, category, class, driver and usage type
COST_KEY = ("user_id", "category", "storage_class", "driver", "usage_type")
