-- The 10 users fullest of their quota (above 80 %) on each report day of $start..$end.
SELECT usage_date AS day, user_id, plan, stored_bytes, quota_bytes, quota_use_pct
FROM cost.user_quota_use
WHERE usage_date BETWEEN $start AND $end AND quota_use_pct > 80
QUALIFY row_number() OVER (PARTITION BY usage_date ORDER BY quota_use_pct DESC, user_id) <= 10
ORDER BY day, quota_use_pct DESC, user_id
