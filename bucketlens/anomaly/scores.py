"""Anomaly scores: how unusual each user's day is against the user's own history.

Fixed thresholds (abuse.py) miss the user who normally adds 50 MB a day and suddenly adds 40 GB, and
they cannot say "unusual" for a user they have never seen. So each metric of each user-day is scored
robustly against the user's trailing history: the median is the baseline and 1.4826 × MAD the scale
(a burst inside the history does not inflate them, as it would a mean and standard deviation). With at
least ``weekday_min_points`` same-weekday days in the window the baseline is the same-weekday median
(weekly rhythm); with less than ``min_history_days`` of history (new users) the baseline is the plan
cohort's median on the same day. The scale never goes below a fraction of the baseline nor below a
per-metric absolute minimum, and a value must also reach a per-metric floor to be anomalous, so tiny
users with flat histories do not flap on a few extra megabytes.

Evidence rows for a score are the usage/cost rows of (user, day) in the metric's source table; the
output names the source, the history size and the baseline's origin so a score can be re-derived.
"""

from __future__ import annotations

from datetime import date

from bucketlens.anomaly.rules import SCORE_METRICS, Rules
from bucketlens.anomaly.sources import DEFAULT_SOURCES, SHARED_USER, Sources, identifier

PUT_OPERATIONS = ["REST.PUT.OBJECT", "REST.PUT.PART", "REST.POST.UPLOAD", "REST.COPY.OBJECT"]
METRIC_SOURCES = {
    "stored_bytes": "user_daily_storage",
    "growth_bytes": "user_daily_storage",
    "bytes_added": "user_daily_storage",
    "put_requests": "user_daily_requests",
    "get_requests": "user_daily_requests",
    "bytes_downloaded": "user_daily_requests",
    "errors_4xx": "user_daily_requests",
    "cost_usd": "user_daily_cost",
}
MAD_TO_SIGMA = 1.4826

# The $window days before a date are the $window grid rows before it (a framed list window) and its
# weekday's are the rows 7, 14, … back (lag): every (user, metric, date) of the grid gets its frame, so the
# cost is per grid row — ($window + days) per user and metric, whatever the number of days scored.
HISTORY_BY_WINDOW = """
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
"""

# Each scored (user, day) joined to its $window grid rows on an integer user key, every metric side by side,
# the lists aggregated per (user, day): the cost is per scored day × $window, so one day of 100,000 users
# takes 11 s where the window takes 17 s, but 7 days take 63 s against 34 s (docs/performance.md, "A full
# daily run at scale"). Lists rather than median/MAD aggregates: DuckDB's hash aggregate spills lists, and
# holistic aggregates' states ran a 90-day range of 2,000 users out of 700 MB.
HISTORY_BY_JOIN = """
scored_keyed AS (SELECT s.user_id, u.uk, s.day FROM scored s JOIN users_keyed u USING (user_id)),
history AS (  -- per scored (user, day), each metric's present values of the $window days before it
    SELECT s.uk, s.day, {history_aggregates}
    FROM scored_keyed s
    JOIN wide w ON w.uk = s.uk AND w.usage_date BETWEEN s.day - $window AND s.day - 1
    GROUP BY s.uk, s.day
),
today AS (  -- a metric without a value on the day (growth after a day without storage) is not scored
    SELECT day, user_id, m.metric, m.value, m.recent, m.weekday
    FROM (
        SELECT s.day, s.user_id, unnest([{metric_structs}]) AS m
        FROM scored_keyed s
        JOIN wide w ON w.uk = s.uk AND w.usage_date = s.day
        LEFT JOIN history h ON h.uk = s.uk AND h.day = s.day
    )
    WHERE m.value IS NOT NULL
),
"""

# Windows of up to this many days take HISTORY_BY_JOIN (the daily run), longer ones HISTORY_BY_WINDOW
# (backfills, the demo): the two cross between 2 and 3 days at 100,000 users.
JOIN_MAX_DAYS = 2

# Every day of $start..$end at once. A scored (user, day) sees exactly the history a single-day run of that
# day sees: the user's present days among the $window days before it (days of the window included — they
# are inputs, written before this runs), its weekday's days among them, and the day's plan cohort. The grid
# has every date of every scored user, and the history is found one of two ways (HISTORY_BY_WINDOW,
# HISTORY_BY_JOIN), equal row for row (tests/anomaly/test_scores_paths.py) but not in cost: see
# JOIN_MAX_DAYS. Both end in ``today``: each scored (user, day, metric) with the lists of its present
# values in the frame and on its weekday.
SCORES_SQL = """
CREATE OR REPLACE TEMP TABLE {out} AS
WITH storage AS (
    SELECT usage_date, user_id, sum(bytes)::DOUBLE AS stored_bytes, sum(bytes_added)::DOUBLE AS bytes_added
    FROM {user_daily_storage}
    WHERE usage_date BETWEEN $start - INTERVAL ($window + 1) DAY AND $end AND user_id <> '{shared}'
    GROUP BY ALL
),
requests AS (
    SELECT usage_date, user_id,
           sum(request_count) FILTER (WHERE list_contains($put_ops, operation))::DOUBLE AS put_requests,
           sum(request_count) FILTER (WHERE operation = 'REST.GET.OBJECT')::DOUBLE AS get_requests,
           sum(bytes_sent) FILTER (WHERE operation = 'REST.GET.OBJECT' AND http_status_class = '2xx')::DOUBLE
               AS bytes_downloaded,
           sum(request_count) FILTER (WHERE http_status_class = '4xx')::DOUBLE AS errors_4xx
    FROM {user_daily_requests}
    WHERE usage_date BETWEEN $start - INTERVAL ($window) DAY AND $end AND user_id <> '{shared}'
    GROUP BY ALL
),
cost AS (
    SELECT usage_date, user_id, sum(amount_usd)::DOUBLE AS cost_usd
    FROM {user_daily_cost}
    WHERE usage_date BETWEEN $start - INTERVAL ($window) DAY AND $end AND user_id <> '{shared}'
    GROUP BY ALL
),
scored AS (  -- (user, day) pairs to score: the user stored or requested something on a day of the window
    SELECT user_id, usage_date AS day FROM storage WHERE usage_date BETWEEN $start AND $end
    UNION SELECT user_id, usage_date FROM requests WHERE usage_date BETWEEN $start AND $end
),
users_keyed AS (SELECT user_id, CAST(row_number() OVER () AS INTEGER) AS uk FROM (SELECT DISTINCT user_id FROM scored)),
grid AS (
    SELECT u.user_id, u.uk, d.usage_date::DATE AS usage_date
    FROM users_keyed u
    CROSS JOIN range($start - INTERVAL ($window + 1) DAY, $end + INTERVAL 1 DAY, INTERVAL 1 DAY) d(usage_date)
),
wide AS MATERIALIZED (  -- a (user, date)'s figures do not depend on the day scored (growth: the date before it)
    SELECT g.user_id, g.uk, g.usage_date, s.user_id IS NOT NULL AS present,
           coalesce(s.stored_bytes, 0) AS stored_bytes,
           s.stored_bytes - lag(s.stored_bytes) OVER (PARTITION BY g.uk ORDER BY g.usage_date) AS growth_bytes,
           coalesce(s.bytes_added, 0) AS bytes_added,
           coalesce(r.put_requests, 0) AS put_requests, coalesce(r.get_requests, 0) AS get_requests,
           coalesce(r.bytes_downloaded, 0) AS bytes_downloaded, coalesce(r.errors_4xx, 0) AS errors_4xx,
           coalesce(c.cost_usd, 0) AS cost_usd
    FROM grid g
    LEFT JOIN storage s USING (user_id, usage_date)
    LEFT JOIN requests r USING (user_id, usage_date)
    LEFT JOIN cost c USING (user_id, usage_date)
),
{history}own AS (
    SELECT * EXCLUDE (recent), list_aggregate(list_transform(recent, lambda x: abs(x - med)), 'median') AS mad
    FROM (SELECT day, user_id, metric, value, recent, len(recent) AS history_days,
                 list_aggregate(recent, 'median') AS med, len(weekday) AS weekday_days,
                 list_aggregate(weekday, 'median') AS weekday_med
          FROM today)
),
snapshots AS (  -- each day's users: the latest snapshot on or before it
    SELECT d.day, s.snapshot_date
    FROM (SELECT DISTINCT day FROM scored) d
    ASOF JOIN (SELECT DISTINCT snapshot_date FROM {users} WHERE snapshot_date <= $end) s
        ON d.day >= s.snapshot_date
),
plans AS (
    SELECT s.day, u.user_id, coalesce(u.plan, 'unknown') AS plan, u.created_at
    FROM snapshots s JOIN {users} u ON u.snapshot_date = s.snapshot_date
),
cohort_values AS (
    SELECT t.day, coalesce(p.plan, 'unknown') AS plan, t.metric, t.value
    FROM own t LEFT JOIN plans p USING (day, user_id)
),
cohort AS (SELECT day, plan, metric, median(value) AS med, count(*) AS users FROM cohort_values GROUP BY ALL),
cohort_mad AS (
    SELECT v.day, v.plan, v.metric, median(abs(v.value - c.med)) AS mad
    FROM cohort_values v JOIN cohort c USING (day, plan, metric) GROUP BY ALL
),
limits AS (SELECT unnest($metrics) AS metric, unnest($floors) AS floor, unnest($min_scales) AS min_scale),
baselines AS (
    SELECT t.day, t.user_id, t.metric, t.value, t.history_days,
           coalesce(p.plan, 'unknown') AS plan,
           CASE WHEN t.history_days < $min_history AND t.metric = 'stored_bytes'
                     AND NOT coalesce(p.created_at >= t.day - INTERVAL ($window) DAY, false) THEN 'none'
                WHEN t.history_days < $min_history THEN 'cohort:' || coalesce(p.plan, 'unknown')
                WHEN t.weekday_days >= $weekday_min THEN 'own_weekday' ELSE 'own' END AS baseline_source,
           CASE WHEN t.history_days < $min_history THEN c.med
                WHEN t.weekday_days >= $weekday_min THEN t.weekday_med ELSE t.med END AS baseline,
           CASE WHEN t.history_days < $min_history THEN cm.mad ELSE t.mad END AS mad,
           l.floor, l.min_scale
    FROM own t
    LEFT JOIN plans p USING (day, user_id)
    LEFT JOIN cohort c ON c.day = t.day AND c.plan = coalesce(p.plan, 'unknown') AND c.metric = t.metric
    LEFT JOIN cohort_mad cm ON cm.day = t.day AND cm.plan = coalesce(p.plan, 'unknown') AND cm.metric = t.metric
    JOIN limits l ON l.metric = t.metric
),
scored_values AS (
    SELECT * REPLACE (CASE WHEN baseline_source = 'none' THEN NULL ELSE baseline END AS baseline),
           greatest({mad_to_sigma} * coalesce(mad, 0), $relative * abs(coalesce(baseline, 0)), min_scale) AS scale
    FROM baselines
)
SELECT day::DATE AS usage_date, user_id, metric, value, baseline,
       (value - baseline) / scale AS score,
       coalesce((value - baseline) / scale >= $threshold AND value >= floor, false) AS is_anomaly,
       {reason} AS reason,
       baseline_source, history_days, scale, floor, plan,
       CASE {source_case} END AS evidence_table
FROM scored_values
"""


def _fmt(metric_col: str, expr: str) -> str:
    """SQL rendering ``expr`` in the metric's unit (bytes, count or dollars)."""
    return f"""CASE WHEN {metric_col} IN ('stored_bytes', 'growth_bytes', 'bytes_added', 'bytes_downloaded')
                   THEN format_bytes(abs({expr})::BIGINT)
                   WHEN {metric_col} = 'cost_usd' THEN format('${{:.2f}}', {expr})
                   ELSE format('{{:,.0f}}', {expr}) END"""


REASON_SQL = """
CASE metric WHEN 'stored_bytes' THEN 'stores ' WHEN 'growth_bytes' THEN (CASE WHEN value < 0 THEN 'shrank by ' ELSE 'grew by ' END)
     WHEN 'bytes_added' THEN 'uploaded ' WHEN 'put_requests' THEN 'made ' WHEN 'get_requests' THEN 'made '
     WHEN 'bytes_downloaded' THEN 'downloaded ' WHEN 'errors_4xx' THEN 'got ' ELSE 'cost ' END
|| {value}
|| CASE metric WHEN 'put_requests' THEN ' uploads (PUT)' WHEN 'get_requests' THEN ' downloads (GET)'
     WHEN 'errors_4xx' THEN ' 4xx errors' ELSE '' END
|| CASE WHEN baseline IS NULL THEN ' (no history to compare with yet)'
        WHEN baseline <= 0 THEN ', usually none'
        ELSE ', ' || CASE WHEN value / baseline >= 10 THEN format('{{:.0f}}', value / baseline)
                          ELSE format('{{:.1f}}', value / baseline) END
             || '× the usual ' || {baseline} END
|| CASE WHEN metric = 'stored_bytes' OR baseline IS NULL THEN '' ELSE '/day' END
|| CASE WHEN starts_with(baseline_source, 'cohort') THEN ' of the ' || plan || ' plan''s users (short history)'
        WHEN baseline_source = 'own_weekday' THEN ' on this weekday' ELSE '' END
"""


def _history_aggregates(window_days: int) -> str:
    """Per metric: the list of its present values in the frame, and of those on the scored day's weekday
    (7, 14, … days back). Lists, not median/MAD aggregates: DuckDB's hash aggregate spills lists, but a
    holistic aggregate's state per group ran a 90-day range of 2,000 users out of 700 MB."""
    weekday = " OR ".join(f"s.day - w.usage_date = {n}" for n in range(7, int(window_days) + 1, 7)) or "false"
    parts = []
    for m in METRIC_SOURCES:
        present = f"w.present AND w.{m} IS NOT NULL"
        parts += [
            f"list(w.{m}) FILTER (WHERE {present}) AS {m}__recent",
            f"list(w.{m}) FILTER (WHERE {present} AND ({weekday})) AS {m}__weekday",
        ]
    return ",\n           ".join(parts)


def _metric_structs() -> str:
    """One struct per metric: the day's value beside its history (unnested to a row each)."""
    return ", ".join(
        f"{{'metric': '{m}', 'value': w.{m}, 'recent': coalesce(h.{m}__recent, []), "
        f"'weekday': coalesce(h.{m}__weekday, [])}}"
        for m in METRIC_SOURCES
    )


def history_ctes(window_days: int, days: int, path: str | None = None) -> str:
    """The CTEs ending in ``today`` for a window of ``days`` days: HISTORY_BY_JOIN up to JOIN_MAX_DAYS,
    HISTORY_BY_WINDOW beyond (``path`` "join" or "window" forces one: the tests compare them)."""
    path = path or ("join" if days <= JOIN_MAX_DAYS else "window")
    if path == "join":
        return HISTORY_BY_JOIN.format(
            history_aggregates=_history_aggregates(window_days), metric_structs=_metric_structs()
        )
    weeks = range(7, int(window_days) + 1, 7)
    lags = ", ".join(f"lag(history, {n}) OVER by_date" for n in weeks) or "NULL"
    return HISTORY_BY_WINDOW.format(weekday_lags=lags)


def scores_sql(sources: Sources, out: str, window_days: int, days: int = 1, path: str | None = None) -> str:
    names = {**sources.sql(), "out": identifier(out), "shared": SHARED_USER}
    reason = REASON_SQL.format(value=_fmt("metric", "value"), baseline=_fmt("metric", "baseline"))
    source_case = " ".join(f"WHEN metric = '{m}' THEN '{names[t]}'" for m, t in METRIC_SOURCES.items())
    return SCORES_SQL.format(
        **names,
        reason=reason,
        source_case=source_case,
        mad_to_sigma=MAD_TO_SIGMA,
        history=history_ctes(window_days, days, path),
    )


def parameters(start: date, end: date, rules: Rules) -> dict[str, object]:
    """The bound values of SCORES_SQL: the window, and the score settings of the rules file."""
    s = rules.scores
    return {
        "start": start,
        "end": end,
        "window": s.window_days,
        "min_history": s.min_history_days,
        "weekday_min": s.weekday_min_points,
        "threshold": s.threshold,
        "relative": s.relative_scale,
        "put_ops": PUT_OPERATIONS,
        "metrics": list(SCORE_METRICS),
        "floors": [s.metrics[m].floor for m in SCORE_METRICS],
        "min_scales": [s.metrics[m].min_scale for m in SCORE_METRICS],
    }


def stage_user_anomaly_scores_window(
    con,
    start: date,
    end: date,
    rules: Rules,
    out: str = "stage_user_anomaly_scores",
    sources: Sources = DEFAULT_SOURCES,
) -> dict:
    """Create TEMP table ``out``: one row per day from ``start`` to ``end``, user active on that day and
    metric (value, baseline, score, is_anomaly, reason, baseline_source, history_days, scale, floor, plan,
    evidence_table); returns the counts over the window."""
    days = (end - start).days + 1
    con.execute(scores_sql(sources, out, rules.scores.window_days, days), parameters(start, end, rules))
    rows, users, anomalies = con.execute(
        f"SELECT count(*), count(DISTINCT user_id), count(*) FILTER (WHERE is_anomaly) FROM {identifier(out)}"
    ).fetchall()[0]
    by_metric = dict(
        con.execute(
            f"SELECT metric, count(*) FROM {identifier(out)} WHERE is_anomaly GROUP BY metric"
        ).fetchall()
    )
    return {"rows": int(rows), "users": int(users), "anomalies": int(anomalies), "by_metric": by_metric}


def stage_user_anomaly_scores(
    con, day: date, rules: Rules, out: str = "stage_user_anomaly_scores", sources: Sources = DEFAULT_SOURCES
) -> dict:
    """Create TEMP table ``out``: one row per user active on ``day`` and metric (value, baseline, score,
    is_anomaly, reason, baseline_source, history_days, scale, floor, plan, evidence_table)."""
    return stage_user_anomaly_scores_window(con, day, day, rules, out, sources)
