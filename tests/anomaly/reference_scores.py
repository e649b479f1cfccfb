"""The previous history CTEs of ``bucketlens.anomaly.scores`` (a framed list window over every (user,
metric, date) of the grid), frozen so the set-based rewrite is checked against them row for row.
Everything else of the statement is the current module's: only the history differs.
"""

from bucketlens.anomaly import scores

PREVIOUS_HISTORY = """
grid AS (
    SELECT u.user_id, d.usage_date::DATE AS usage_date
    FROM (SELECT DISTINCT user_id FROM scored) u
    CROSS JOIN range($start - INTERVAL ($window + 1) DAY, $end + INTERVAL 1 DAY, INTERVAL 1 DAY) d(usage_date)
),
wide AS (  -- a (user, date)'s figures do not depend on the day scored (growth: the date before it)
    SELECT g.user_id, g.usage_date, s.user_id IS NOT NULL AS present,
           coalesce(s.stored_bytes, 0) AS stored_bytes,
           s.stored_bytes - lag(s.stored_bytes) OVER (PARTITION BY g.user_id ORDER BY g.usage_date) AS growth_bytes,
           coalesce(s.bytes_added, 0) AS bytes_added,
           coalesce(r.put_requests, 0) AS put_requests, coalesce(r.get_requests, 0) AS get_requests,
           coalesce(r.bytes_downloaded, 0) AS bytes_downloaded, coalesce(r.errors_4xx, 0) AS errors_4xx,
           coalesce(c.cost_usd, 0) AS cost_usd
    FROM grid g
    LEFT JOIN storage s USING (user_id, usage_date)
    LEFT JOIN requests r USING (user_id, usage_date)
    LEFT JOIN cost c USING (user_id, usage_date)
),
long AS (  -- every (user, metric, date): the grid has every date, so a frame of rows is a frame of days
    SELECT * FROM (SELECT * FROM wide WHERE usage_date >= $start - INTERVAL ($window) DAY)
    UNPIVOT INCLUDE NULLS (value FOR metric IN (stored_bytes, growth_bytes, bytes_added, put_requests,
                                                get_requests, bytes_downloaded, errors_4xx, cost_usd))
),
framed AS (  -- each (user, metric, date)'s present values of the $window days before it, of its weekday's
    SELECT user_id, usage_date AS day, metric, value,
           list(history) OVER (by_date ROWS BETWEEN $window PRECEDING AND 1 PRECEDING) AS recent,
           [{weekday_lags}] AS weekday
    FROM (SELECT *, CASE WHEN present THEN value END AS history FROM long)
    WINDOW by_date AS (PARTITION BY user_id, metric ORDER BY usage_date)
),
today AS (  -- a metric without a value on the day (growth after a day without storage) is not scored
    SELECT f.* REPLACE (list_filter(recent, lambda x: x IS NOT NULL) AS recent,
                        list_filter(weekday, lambda x: x IS NOT NULL) AS weekday)
    FROM framed f SEMI JOIN scored s ON s.user_id = f.user_id AND s.day = f.day
    WHERE f.value IS NOT NULL
),
own AS (
    SELECT * EXCLUDE (recent), list_aggregate(list_transform(recent, lambda x: abs(x - med)), 'median') AS mad
    FROM (SELECT day, user_id, metric, value, recent, len(recent) AS history_days,
                 list_aggregate(recent, 'median') AS med, len(weekday) AS weekday_days,
                 list_aggregate(weekday, 'median') AS weekday_med
          FROM today)
),
"""


def reference_scores_sql(sources, out: str, window_days: int) -> str:
    """The statement as it was: the current one with its history CTEs swapped for PREVIOUS_HISTORY."""
    current = scores.SCORES_SQL
    start, end = current.index("users_keyed AS ("), current.index("snapshots AS (")
    template = current[:start] + PREVIOUS_HISTORY.lstrip("\n") + current[end:]
    weeks = range(7, int(window_days) + 1, 7)
    lags = ", ".join(f"lag(history, {n}) OVER by_date" for n in weeks) or "NULL"
    names = {**sources.sql(), "out": scores.identifier(out), "shared": scores.SHARED_USER}
    reason = scores.REASON_SQL.format(
        value=scores._fmt("metric", "value"), baseline=scores._fmt("metric", "baseline")
    )
    source_case = " ".join(f"WHEN metric = '{m}' THEN '{names[t]}'" for m, t in scores.METRIC_SOURCES.items())
    return template.format(
        **names, reason=reason, source_case=source_case, mad_to_sigma=scores.MAD_TO_SIGMA, weekday_lags=lags
    )
