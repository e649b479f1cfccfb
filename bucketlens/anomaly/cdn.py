"""The CDN's detectors (issue 20): the runbooks' CloudFront lines per distribution, as service anomalies,
and hotlinking per user, as an abuse flag.

* ``cdn_hit_ratio_drop``: a distribution's cache hit rate (``usage.service_daily_cdn``: CloudWatch
  CacheHitRate where enabled, else the logs' Hit + RefreshHit over Hit + RefreshHit + Miss) below the
  line (90 %) on a day with enough requests to mean something; the baseline is the trailing week's mean.
* ``cdn_error_rate``: the 4xx + 5xx share of its requests above the line (5 %).
* ``cdn_bandwidth``: bytes downloaded from it in a day above the line (100 GB).
* ``cdn_hotlinking``: one user's objects pulled by many distinct external referer hosts (other sites
  embedding them) on a day whose CDN requests are far above the user's own trailing median; days in the
  window on which the CDN logged anything but not this user count as 0 requests.

Service anomalies carry the distribution id in their ``bucket`` column (the alert subject is
``CloudFront <distribution id>``). A warehouse without CloudFront tables skips these detectors: a source
without CloudFront data gets exactly the flags it got before.
"""

from __future__ import annotations

from bucketlens.anomaly.rules import Levels, Rules

# Rules that fire *below* their line (a floor): every other service rule fires above it.
FLOOR_METRICS = ("cdn_hit_ratio_drop",)

LEVEL_SQL = """
INSERT INTO {out}
SELECT usage_date, distribution_id, $metric, {value}, NULL,
       CASE WHEN $critical IS NOT NULL AND {value} > $critical THEN $critical ELSE $warning END,
       CASE WHEN $critical IS NOT NULL AND {value} > $critical THEN 'critical' ELSE 'warning' END,
       {reason},
       json_object('table', '{service_daily_cdn}', 'usage_date', usage_date, 'distribution_id', distribution_id,
                   'requests', requests, 'requests_source', requests_source, 'bytes_downloaded', bytes_downloaded,
                   'error_rate_4xx', error_rate_4xx, 'error_rate_5xx', error_rate_5xx)::VARCHAR
FROM {service_daily_cdn}
WHERE usage_date BETWEEN $start AND $end AND {value} > coalesce($warning, $critical)
"""
# (inserted as a format argument: single braces reach DuckDB's format as they are)
ERROR_REASON = (
    "format('{:.2f} % of CloudFront requests answered 4xx/5xx (line {:.0f} %)', 100 * error_rate, "
    "100 * CASE WHEN $critical IS NOT NULL AND error_rate > $critical THEN $critical ELSE $warning END)"
)
BANDWIDTH_REASON = (
    "format('{} downloaded from CloudFront in a day (line {})', format_bytes(bytes_downloaded), "
    "format_bytes(CAST(CASE WHEN $critical IS NOT NULL AND bytes_downloaded > $critical THEN $critical "
    "ELSE $warning END AS BIGINT)))"
)

HIT_RATE_SQL = """
INSERT INTO {out}
WITH days AS (
    SELECT * FROM {service_daily_cdn}
    WHERE usage_date BETWEEN $start AND $end AND cache_hit_rate < $below AND coalesce(requests, 0) >= $min_requests
),
week AS (
    SELECT d.usage_date, d.distribution_id, avg(h.cache_hit_rate) AS baseline, count(h.cache_hit_rate) AS days
    FROM days d JOIN {service_daily_cdn} h ON h.distribution_id = d.distribution_id
     AND h.usage_date BETWEEN d.usage_date - INTERVAL 7 DAY AND d.usage_date - INTERVAL 1 DAY
    GROUP BY ALL
)
SELECT d.usage_date, d.distribution_id, 'cdn_hit_ratio_drop', d.cache_hit_rate, w.baseline, $below, $severity,
       format('cache hit rate {{:.2f}} % is below {{:.0f}} %{{}} ({{:,}} requests; from {{}})', 100 * d.cache_hit_rate,
              100 * $below, CASE WHEN w.baseline IS NOT NULL THEN format('; trailing week {{:.2f}} %', 100 * w.baseline)
              ELSE '' END, d.requests, d.cache_hit_rate_source),
       json_object('table', '{service_daily_cdn}', 'usage_date', d.usage_date, 'distribution_id', d.distribution_id,
                   'requests', d.requests, 'cache_hit_rate_source', d.cache_hit_rate_source,
                   'log_hit_ratio', d.log_hit_ratio, 'log_byte_hit_ratio', d.log_byte_hit_ratio,
                   'origin_fetches', d.log_origin_fetches, 'baseline_days', coalesce(w.days, 0))::VARCHAR
FROM days d LEFT JOIN week w USING (usage_date, distribution_id)
"""

HOTLINKING_SQL = """
INSERT INTO {out}
WITH cdn AS (
    SELECT usage_date, user_id, sum(requests) AS requests, max(user_referer_hosts) AS hosts,
           sum(bytes_sent) AS bytes, list(DISTINCT distribution_id ORDER BY distribution_id) AS distributions
    FROM {user_daily_cdn}
    WHERE usage_date BETWEEN $start - INTERVAL ($baseline_days) DAY AND $end AND user_id <> '{shared}'
    GROUP BY usage_date, user_id
),
cdn_days AS (SELECT DISTINCT usage_date FROM cdn),
today AS (
    SELECT * FROM cdn
    WHERE usage_date BETWEEN $start AND $end AND hosts >= $min_hosts AND requests >= $min_requests
),
history AS (
    SELECT t.usage_date, t.user_id, coalesce(h.requests, 0) AS requests
    FROM today t
    JOIN cdn_days d ON d.usage_date BETWEEN t.usage_date - INTERVAL ($baseline_days) DAY
                                      AND t.usage_date - INTERVAL 1 DAY
    LEFT JOIN cdn h ON h.user_id = t.user_id AND h.usage_date = d.usage_date
),
baseline AS (
    SELECT usage_date, user_id, median(requests) AS median, count(*) AS days FROM history GROUP BY ALL
)
SELECT t.usage_date, t.user_id, 'cdn_hotlinking', $severity, t.hosts, $min_hosts, '{user_daily_cdn}',
       json_object('distinct_referer_hosts', t.hosts, 'requests', t.requests, 'bytes_sent', t.bytes,
                   'baseline_median_requests', b.median, 'baseline_days', b.days, 'min_ratio', $min_ratio,
                   'distributions', t.distributions)::VARCHAR
FROM today t JOIN baseline b USING (usage_date, user_id)
WHERE b.days >= $min_history AND t.requests >= $min_ratio * b.median
"""


def table_exists(con, name: str) -> bool:
    schema, _, table = name.rpartition(".")
    sql = (
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND (? = '' OR table_schema = ?)"
    )
    return con.execute(sql, [table, schema, schema]).fetchall()[0][0] > 0


def _levels(levels: Levels) -> dict:
    return {"warning": levels.warning, "critical": levels.critical}


def service_statements(rules: Rules, names: dict[str, str]) -> list[tuple[str, dict]]:
    """The per-distribution CDN rules with the parameters each binds (besides ``$start``, ``$end``)."""
    s = rules.service
    hit = s.cdn_hit_rate
    return [
        (
            HIT_RATE_SQL.format(**names),
            {"below": hit.below, "min_requests": hit.min_requests, "severity": hit.severity},
        ),
        (
            LEVEL_SQL.format(**names, value="error_rate", reason=ERROR_REASON),
            {"metric": "cdn_error_rate", **_levels(s.cdn_error_rate)},
        ),
        (
            LEVEL_SQL.format(**names, value="bytes_downloaded", reason=BANDWIDTH_REASON),
            {"metric": "cdn_bandwidth", **_levels(s.cdn_bandwidth_per_day)},
        ),
    ]


def stage_service_cdn(con, window: dict, rules: Rules, names: dict[str, str]) -> None:
    """Insert the window's CDN service anomalies into ``names['out']`` (nothing without the table)."""
    if not table_exists(con, names["service_daily_cdn"]):
        return
    for sql, params in service_statements(rules, names):
        con.execute(sql, {**window, **params})


def stage_hotlinking(con, window: dict, rules: Rules, names: dict[str, str]) -> None:
    """Insert the window's ``cdn_hotlinking`` flags into ``names['out']`` (nothing without the table)."""
    if not table_exists(con, names["user_daily_cdn"]):
        return
    h = rules.abuse.cdn_hotlinking
    params = {
        "min_hosts": h.min_referer_hosts,
        "min_ratio": h.min_ratio,
        "min_requests": h.min_requests,
        "baseline_days": h.baseline_days,
        "min_history": h.min_history_days,
        "severity": h.severity,
    }
    con.execute(HOTLINKING_SQL.format(**names), {**window, **params})
