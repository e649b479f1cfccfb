"""Service anomalies: the bucket-wide health and cost rules of design §7, each with value, baseline and
threshold, so an on-call reader sees at once how far over the line the service is.

Health rules read ``usage.service_daily_metrics`` (one row per bucket and day). Cost rules read the cost
export (``raw.cost_line_items``) and, for days it does not cover yet, the price-book estimate in
``cost.user_daily_cost``; cost rows have bucket '*' (the export is account-wide).

The cost spike compares the day with the mean of the trailing week *at the paid rate* (a mean, as the
runbook's "trailing baseline": a median lags behind steady growth and flags ordinary weeks): each usage
line item is re-priced at the highest unit rate its usage type was billed at in the last 28 days, and
credits, refunds and taxes are left out. Otherwise the day the monthly free tier runs out (egress
suddenly billed) or a credit would look like a spike or hide one; the billed (net) figures are kept in
the evidence. The error-rate rule uses server errors (5xx, i.e. 1 − availability) as the runbook's
dashboard does: 4xx (404s of a sync client, 304s) are normal traffic, not unavailability.
"""

from __future__ import annotations

from datetime import date

from bucketlens.anomaly.cdn import stage_service_cdn
from bucketlens.anomaly.rules import Levels, Rules
from bucketlens.anomaly.sources import DEFAULT_SOURCES, Sources, identifier

RATE_WINDOW_DAYS = 28

OUTPUT_DDL = """
CREATE OR REPLACE TEMP TABLE {out} (
    usage_date DATE NOT NULL,
    bucket VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE,
    baseline DOUBLE,
    threshold DOUBLE,
    severity VARCHAR NOT NULL,
    reason VARCHAR,
    evidence VARCHAR
)"""

# One row per bucket and day of the window: the day's figures next to the previous day's storage.
HEALTH_SQL = """
CREATE OR REPLACE TEMP TABLE _service_health AS
SELECT t.usage_date, t.bucket, t.total_bytes::DOUBLE AS total_bytes,
       (t.total_bytes - y.total_bytes)::DOUBLE AS growth_bytes,
       y.total_bytes::DOUBLE AS previous_bytes, t.peak_hour_requests::DOUBLE AS peak_hour_requests,
       1 - t.availability AS server_error_rate, t.error_rate AS all_error_rate, t.avg_latency_ms,
       t.request_count, t.requests_source
FROM {service_daily_metrics} t
LEFT JOIN {service_daily_metrics} y ON y.bucket = t.bucket AND y.usage_date = t.usage_date - INTERVAL 1 DAY
WHERE t.usage_date BETWEEN $start AND $end
"""

LEVEL_SQL = """
INSERT INTO {out}
SELECT usage_date, bucket, $metric, {value}, {baseline},
       CASE WHEN $critical IS NOT NULL AND {value} > $critical THEN $critical ELSE $warning END,
       CASE WHEN $critical IS NOT NULL AND {value} > $critical THEN 'critical' ELSE 'warning' END,
       format($reason, {value_text},
              CASE WHEN $critical IS NOT NULL AND {value} > $critical THEN {critical_text} ELSE {warning_text} END),
       json_object('table', '{service_daily_metrics}', 'usage_date', usage_date, 'bucket', bucket,
                   'requests_source', requests_source, 'request_count', request_count)::VARCHAR
FROM _service_health
WHERE {value} > coalesce($warning, $critical)
"""

# The S3 bill's line items (CloudFront's have their own CDN rules): the cost rules watch the bucket's bill.
S3_ITEMS = "coalesce(product_code, '') <> 'AmazonCloudFront'"

# Daily S3 cost, billed (net), from the export or, for a day it does not cover, the estimate: a day's
# figure does not depend on the day being checked. Exact sums (DECIMAL): a window's days must see the
# same figures a single day's run sees, whatever order DuckDB adds them in.
DAILY_COST_SQL = """
CREATE OR REPLACE TEMP TABLE _service_daily_cost AS
WITH exported AS (
    SELECT CAST(usage_start AS DATE) AS usage_date, sum(unblended_cost) AS net_usd,
           sum(unblended_cost) FILTER (WHERE line_item_type <> 'Usage') AS credits_and_other_usd
    FROM {cost_line_items}
    WHERE CAST(usage_start AS DATE) BETWEEN $first AND $end AND {s3_items}
    GROUP BY ALL
),
estimated AS (
    SELECT usage_date, sum(amount_usd) AS net_usd
    FROM {user_daily_cost}
    WHERE usage_date BETWEEN $first AND $end AND usage_date NOT IN (SELECT usage_date FROM exported)
      AND category <> 'cdn'
    GROUP BY usage_date
)
SELECT usage_date, net_usd, coalesce(credits_and_other_usd, 0) AS credits_and_other_usd, 'cost_export' AS source
FROM exported
UNION ALL
SELECT usage_date, net_usd, 0, 'estimate' FROM estimated
"""

# Each checked day's baseline week and the day itself at the *checked day's* paid rates: each usage line
# item re-priced at the highest unit rate its usage type was billed at in the {rate_window} days up to
# the checked day (a per-item figure rounded to 10^-12 $, summed exactly). Estimated days: their net.
GROSS_SQL = """
CREATE OR REPLACE TEMP TABLE _service_gross_cost AS
WITH days AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS DATE) AS day
),
items AS (
    SELECT CAST(usage_start AS DATE) AS usage_date, line_item_type, usage_type, usage_amount,
           unblended_cost::DOUBLE AS cost
    FROM {cost_line_items}
    WHERE CAST(usage_start AS DATE) BETWEEN $start - INTERVAL ($baseline_days + {rate_window}) DAY AND $end
      AND {s3_items}
),
rates AS (
    SELECT d.day, i.usage_type, max(i.cost / i.usage_amount) AS paid_rate
    FROM days d JOIN items i ON i.usage_date BETWEEN d.day - INTERVAL {rate_window} DAY AND d.day
    WHERE i.line_item_type = 'Usage' AND i.usage_amount > 0 AND i.cost > 0
    GROUP BY ALL
),
exported AS (
    SELECT d.day, i.usage_date,
           sum(CASE WHEN i.line_item_type = 'Usage'
                    THEN CAST(greatest(i.cost, i.usage_amount * coalesce(r.paid_rate, 0)) AS DECIMAL(38, 12))
                    ELSE 0 END) AS gross_usd
    FROM days d
    JOIN items i ON i.usage_date BETWEEN d.day - INTERVAL ($baseline_days) DAY AND d.day
    LEFT JOIN rates r ON r.day = d.day AND r.usage_type = i.usage_type
    GROUP BY ALL
)
SELECT d.day, c.usage_date, c.net_usd, c.credits_and_other_usd, c.source,
       CASE WHEN c.source = 'estimate' THEN CAST(c.net_usd AS DECIMAL(38, 12)) ELSE e.gross_usd END AS gross_usd
FROM days d
JOIN _service_daily_cost c ON c.usage_date BETWEEN d.day - INTERVAL ($baseline_days) DAY AND d.day
LEFT JOIN exported e ON e.day = d.day AND e.usage_date = c.usage_date
"""

COST_SPIKE_SQL = """
INSERT INTO {out}
WITH today AS (
    SELECT day, gross_usd::DOUBLE AS gross_usd, net_usd, credits_and_other_usd, source
    FROM _service_gross_cost WHERE usage_date = day
),
history AS (
    SELECT day, avg(gross_usd) AS baseline, count(*) AS days, list(usage_date ORDER BY usage_date) AS dates,
           list(round(gross_usd::DOUBLE, 6) ORDER BY usage_date) AS gross
    FROM _service_gross_cost WHERE usage_date BETWEEN day - INTERVAL ($baseline_days) DAY AND day - INTERVAL 1 DAY
    GROUP BY day
),
spikes AS (
    SELECT t.*, b.* EXCLUDE (day)
    FROM today t JOIN history b USING (day)
    WHERE b.days >= $min_days AND b.baseline > 0
      AND t.gross_usd > b.baseline * (1 + $ratio) AND t.gross_usd - b.baseline >= $min_increase
),
top_users AS (
    SELECT usage_date AS day, list({{'user_id': user_id, 'usd': round(usd, 6)}} ORDER BY usd DESC, user_id)[1:5] AS users
    FROM (SELECT usage_date, user_id, sum(amount_usd)::DOUBLE AS usd FROM {user_daily_cost}
          WHERE usage_date IN (SELECT day FROM spikes) AND category <> 'cdn' GROUP BY ALL)
    GROUP BY usage_date
)
SELECT s.day, '*', 'cost_spike', s.gross_usd, s.baseline, s.baseline * (1 + $ratio), $severity,
       format('S3 cost ${{:.2f}} is {{:.0f}} % above the trailing {{}}-day mean ${{:.2f}} (threshold +{{:.0f}} %)',
              s.gross_usd, 100 * (s.gross_usd / s.baseline - 1), s.days, s.baseline, 100 * $ratio),
       json_object('billed_usd', round(s.net_usd::DOUBLE, 6), 'at_paid_rate_usd', round(s.gross_usd, 6),
                   'credits_and_other_usd', round(s.credits_and_other_usd::DOUBLE, 6), 'source', s.source,
                   'baseline_dates', s.dates, 'baseline_usd', s.gross,
                   'top_users', u.users, 'table', '{user_daily_cost}')::VARCHAR
FROM spikes s LEFT JOIN top_users u USING (day)
"""

DAILY_COST_LEVEL_SQL = """
INSERT INTO {out}
SELECT usage_date, '*', 'daily_cost', net_usd::DOUBLE, NULL,
       CASE WHEN $critical IS NOT NULL AND net_usd > $critical THEN $critical ELSE $warning END,
       CASE WHEN $critical IS NOT NULL AND net_usd > $critical THEN 'critical' ELSE 'warning' END,
       format('S3 cost ${{:.2f}} on the day', net_usd::DOUBLE),
       json_object('source', source, 'table', '{user_daily_cost}')::VARCHAR
FROM _service_daily_cost
WHERE usage_date BETWEEN $start AND $end AND net_usd > coalesce($warning, $critical)
"""

# Month to date per day of the window, against the same days of the previous month.
MONTHLY_SQL = """
INSERT INTO {out}
WITH days AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY)) AS DATE) AS day
),
this_month AS (
    SELECT d.day, sum(c.net_usd)::DOUBLE AS usd, count(*) AS days
    FROM days d JOIN _service_daily_cost c ON c.usage_date BETWEEN date_trunc('month', d.day) AND d.day
    GROUP BY d.day
),
last_month AS (
    SELECT d.day, sum(c.net_usd)::DOUBLE AS usd, count(*) AS days
    FROM days d JOIN _service_daily_cost c
      ON c.usage_date >= date_trunc('month', d.day) - INTERVAL 1 MONTH
     AND c.usage_date <= d.day - INTERVAL 1 MONTH AND c.usage_date < date_trunc('month', d.day)
    GROUP BY d.day
)
SELECT t.day, '*', 'monthly_cost', t.usd, NULL, $monthly, 'warning',
       format('month-to-date S3 cost ${{:.2f}} over {{}} days', t.usd, t.days),
       json_object('days', t.days, 'table', '{user_daily_cost}')::VARCHAR
FROM this_month t WHERE $monthly IS NOT NULL AND t.usd > $monthly
UNION ALL
SELECT t.day, '*', 'month_over_month_cost', t.usd, l.usd, l.usd * (1 + $mom_ratio), $mom_severity,
       format('month-to-date S3 cost ${{:.2f}} is {{:.0f}} % above the same days of last month (${{:.2f}})',
              t.usd, 100 * (t.usd / l.usd - 1), l.usd),
       json_object('days', t.days, 'previous_days', l.days, 'table', '{user_daily_cost}')::VARCHAR
FROM this_month t JOIN last_month l USING (day)
WHERE l.days >= t.days AND l.usd > 0 AND t.usd > l.usd * (1 + $mom_ratio)
"""

HEALTH_RULES = (
    # metric, rules attribute, value column, baseline column, reason, unit
    ("storage_total", "storage_bytes", "total_bytes", "NULL", "bucket stores {} (threshold {})", "bytes"),
    ("storage_growth", "growth_bytes_per_day", "growth_bytes", "previous_bytes", "bucket grew by {} in a day (threshold {})", "bytes"),
    ("request_rate", "requests_per_hour", "peak_hour_requests", "NULL", "{} requests in the busiest hour (threshold {})", "count"),
    ("error_rate", "error_rate", "server_error_rate", "NULL", "{} of requests failed with a server error (threshold {})", "percent"),
    ("latency", "latency_ms", "avg_latency_ms", "NULL", "average request latency {} (threshold {})", "ms"),
)  # fmt: skip
UNIT_TEXT = {
    "bytes": "format_bytes(({x})::BIGINT)",
    "count": "format('{{:,.0f}}', {x})",
    "percent": "format('{{:.2f}} %', 100 * ({x}))",
    "ms": "format('{{:,.0f}} ms', {x})",
}


def _level_params(levels: Levels) -> dict:
    return {"warning": levels.warning, "critical": levels.critical}


def _health_statements(rules: Rules, names: dict[str, str]) -> list[tuple[str, dict]]:
    out = []
    for metric, attr, column, baseline, reason, unit in HEALTH_RULES:
        text = UNIT_TEXT[unit]
        sql = LEVEL_SQL.format(
            **names,
            value=column,
            baseline=baseline,
            value_text=text.format(x=column),
            warning_text=text.format(x="$warning"),
            critical_text=text.format(x="$critical"),
        )
        out.append((sql, {"metric": metric, "reason": reason, **_level_params(getattr(rules.service, attr))}))
    return out


def stage_service_anomalies_window(
    con,
    start: date,
    end: date,
    rules: Rules,
    out: str = "stage_service_anomalies",
    sources: Sources = DEFAULT_SOURCES,
) -> dict:
    """Create TEMP table ``out`` with the service anomalies of every day from ``start`` to ``end`` (only
    rules that fired); returns the number of anomalies per metric over the window."""
    s = rules.service
    names = {**sources.sql(), "out": identifier(out), "rate_window": RATE_WINDOW_DAYS, "s3_items": S3_ITEMS}
    window = {"start": start, "end": end}
    con.execute(OUTPUT_DDL.format(**names))
    con.execute(HEALTH_SQL.format(**names), window)
    for sql, params in _health_statements(rules, names):
        con.execute(sql, params)
    stage_service_cdn(con, window, rules, names)  # CloudFront per distribution, where its table exists
    # the earliest day any rule of any day reads: the baseline week, the previous month's same days
    first = min(start.replace(day=1), date.fromordinal(start.toordinal() - s.cost_spike.baseline_days))
    first = date.fromordinal(first.toordinal() - 31)
    con.execute(DAILY_COST_SQL.format(**names), {"end": end, "first": first})
    con.execute(GROSS_SQL.format(**names), {**window, "baseline_days": s.cost_spike.baseline_days})
    con.execute(
        COST_SPIKE_SQL.format(**names),
        {
            "baseline_days": s.cost_spike.baseline_days,
            "min_days": s.cost_spike.min_baseline_days,
            "ratio": s.cost_spike.ratio,
            "min_increase": s.cost_spike.min_increase_usd,
            "severity": s.cost_spike.severity,
        },
    )
    con.execute(DAILY_COST_LEVEL_SQL.format(**names), {**window, **_level_params(s.daily_cost_usd)})
    con.execute(
        MONTHLY_SQL.format(**names),
        {
            **window,
            "monthly": s.monthly_cost_usd.warning or s.monthly_cost_usd.critical,
            "mom_ratio": s.month_over_month_cost.ratio,
            "mom_severity": s.month_over_month_cost.severity,
        },
    )
    counts = dict(con.execute(f"SELECT metric, count(*) FROM {names['out']} GROUP BY metric").fetchall())
    return {k: int(v) for k, v in counts.items()}


def stage_service_anomalies(
    con, day: date, rules: Rules, out: str = "stage_service_anomalies", sources: Sources = DEFAULT_SOURCES
) -> dict:
    """Create TEMP table ``out`` with the day's service anomalies (only rules that fired); returns the
    number of anomalies per metric."""
    return stage_service_anomalies_window(con, day, day, rules, out, sources)
