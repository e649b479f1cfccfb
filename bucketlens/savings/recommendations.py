"""savings.storage_recommendations: per user, bucket and candidate class, the lifecycle rule that would
save the most, what it saves a month and when its transition fees are paid back.

The SQL (``storage_recommendations.sql``) does the work over a window of days; this module prepares what
it joins — the candidate classes and Standard's tiers from the price book, the rules file's search
settings, the user's key prefix — and the DDL of the table. See the SQL's header for the model.
"""

from __future__ import annotations

from datetime import date

import duckdb

from bucketlens.anomaly.rules_savings import SavingsRules
from bucketlens.costing.price_book import PriceBook
from bucketlens.keys import KeyPattern
from bucketlens.savings import sql
from bucketlens.savings.prices import (
    CandidateClass,
    baseline,
    candidate_classes,
    load_table,
    load_tiers,
    stage_with_bucket_rates,
)

TABLE = "savings.storage_recommendations"
CANDIDATES = "sv_candidates"
RECOMMENDATIONS_SQL = sql("storage_recommendations")

TABLE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS savings;
CREATE TABLE IF NOT EXISTS {TABLE} (
    usage_date DATE NOT NULL,
    bucket VARCHAR NOT NULL,
    user_id VARCHAR NOT NULL,
    storage_class VARCHAR NOT NULL,
    prefix VARCHAR,
    transition_age_days INTEGER,
    min_object_bytes BIGINT,
    max_object_bytes BIGINT,
    objects BIGINT,
    bytes BIGINT,
    cold_bytes BIGINT,
    reads BIGINT,
    restores BIGINT,
    early_deletes BIGINT,
    current_monthly_usd DECIMAL(18, 6),
    storage_saving_usd DECIMAL(18, 6),
    monitoring_usd DECIMAL(18, 6),
    retrieval_usd DECIMAL(18, 6),
    early_delete_usd DECIMAL(18, 6),
    monthly_saving_usd DECIMAL(18, 6),
    transition_cost_usd DECIMAL(18, 6),
    break_even_months DOUBLE,
    standard_rate DOUBLE,
    observed_days INTEGER,
    price_as_of VARCHAR,
    recommended BOOLEAN,
    reason VARCHAR,
    lifecycle_rule VARCHAR,
    best_for_user BOOLEAN
)"""

# Object groups shared by the staging query (the check's recomputation never uses them: it reads objects).
MACROS = (
    # 0: empty objects; 1: under 2 KiB; k >= 2: [2^(k+9), 2^(k+10)) bytes
    "CREATE OR REPLACE TEMP MACRO sv_size_group(s) AS "
    "CASE WHEN s <= 0 THEN 0 WHEN s < 2048 THEN 1 ELSE CAST(floor(log2(s)) AS INTEGER) - 9 END",
    "CREATE OR REPLACE TEMP MACRO sv_size_floor(g) AS "
    "CASE WHEN g <= 0 THEN 0 WHEN g = 1 THEN 1 ELSE CAST(1 AS BIGINT) << (g + 9) END",
    # how many of the (ascending) transition ages an object of ``age`` days has reached
    "CREATE OR REPLACE TEMP MACRO sv_age_group(age, ages) AS len(list_filter(ages, lambda a: a <= age))",
)


def prefix_parts(pattern: KeyPattern) -> tuple[str, str]:
    """The key pattern around ``{user_id}``: a user's prefix is head + id + tail (``users/`` + id + ``/``).
    Exact when the tail starts with a character user ids cannot contain (the default ``/``)."""
    head, tail = pattern.pattern.split("{user_id}")
    return head, tail


def load_prices(con: duckdb.DuckDBPyConnection, book: PriceBook, provider: str) -> list[CandidateClass]:
    """TEMP tables ``sv_candidates`` and ``sv_tiers`` from the price book; the candidate classes."""
    classes = candidate_classes(book, provider)
    load_table(con, CANDIDATES, classes, CandidateClass)
    load_tiers(con, book, provider)
    for macro in MACROS:
        con.execute(macro)
    return classes


def parameters(
    start: date, end: date, savings: SavingsRules, book: PriceBook, provider: str, pattern: KeyPattern
) -> dict[str, object]:
    head, tail = prefix_parts(pattern)
    rules = savings.recommendations
    return {
        "start": start,
        "end": end,
        "ages": list(rules.transition_ages_days),
        "history_days": rules.history_days,
        "min_history_days": rules.min_history_days,
        "restore_days": rules.restore_days,
        "max_months": float(rules.max_break_even_months),
        "min_saving": float(rules.min_monthly_saving_usd),
        "baseline_get": baseline(book, provider).get_per_request,
        "prefix_head": head,
        "prefix_tail": tail,
        "orphaned_statuses": list(savings.leaks.orphaned_statuses),
    }


def stage_recommendations(
    con: duckdb.DuckDBPyConnection,
    out: str,
    start: date,
    end: date,
    rules: SavingsRules,
    book: PriceBook,
    provider: str,
    pattern: KeyPattern,
) -> None:
    """TEMP table ``out``: the rows of ``savings.storage_recommendations`` for the days start .. end."""
    load_prices(con, book, provider)
    stage_with_bucket_rates(
        con, out, RECOMMENDATIONS_SQL, parameters(start, end, rules, book, provider, pattern)
    )


RECOMPUTE_SQL = sql("recommendations_recompute")
TOLERANCE_USD = 0.000002  # both sides rounded to the micro-dollar

# Per day: how many recommendations the check recomputed and which disagree (first one named).
RECOMPUTE_BY_DAY_SQL = f"""
WITH c AS ({RECOMPUTE_SQL}),
judged AS (
    SELECT *, stored_objects <> objects OR stored_bytes <> bytes
              OR abs(CAST(stored_saving_usd AS DOUBLE) - saving_usd) > {TOLERANCE_USD}
              OR abs(CAST(stored_transition_usd AS DOUBLE) - transition_usd) > {TOLERANCE_USD} AS wrong
    FROM c
)
SELECT usage_date, count(*) AS checked, count(*) FILTER (WHERE wrong) AS wrong,
       max(abs(CAST(stored_saving_usd AS DOUBLE) - saving_usd)) AS worst_usd,
       arg_min(format('user {{}} {{}} in {{}}: stored ${{}} for {{}} objects, recomputed ${{:.6f}} for {{}}',
                      user_id, storage_class, bucket, stored_saving_usd, stored_objects, saving_usd, objects),
               user_id || storage_class) FILTER (WHERE wrong) AS first_wrong
FROM judged GROUP BY usage_date
"""

# Per day: lifecycle rules that would not do what the recommendation says (AWS's own constraints).
RULES_BY_DAY_SQL = f"""
WITH r AS (
    SELECT usage_date, user_id, storage_class, prefix, transition_age_days, min_object_bytes, max_object_bytes,
           json_extract(lifecycle_rule, '$.Rules[0]') AS rule
    FROM {TABLE} WHERE usage_date BETWEEN $start AND $end
),
judged AS (
    SELECT r.*, NOT (
        json_valid(CAST(rule AS VARCHAR))
        AND coalesce(json_extract_string(rule, '$.Filter.And.Prefix'), json_extract_string(rule, '$.Filter.Prefix')) = prefix
        AND starts_with(prefix, $prefix_head) AND CAST(json_extract(rule, '$.Transitions[0].Days') AS INTEGER) = transition_age_days
        AND transition_age_days >= c.min_transition_age_days
        AND json_extract_string(rule, '$.Transitions[0].StorageClass') = c.lifecycle_class
        AND length(json_extract_string(rule, '$.ID')) <= 255
        AND (max_object_bytes IS NULL OR max_object_bytes > coalesce(min_object_bytes, 0))
        AND coalesce(CAST(json_extract(rule, '$.Filter.And.ObjectSizeGreaterThan') AS BIGINT) + 1, 0)
            = coalesce(min_object_bytes, 0)
        AND CAST(json_extract(rule, '$.Filter.And.ObjectSizeLessThan') AS BIGINT) IS NOT DISTINCT FROM max_object_bytes
    ) AS wrong
    FROM r JOIN {CANDIDATES} c USING (storage_class)
)
SELECT usage_date, count(*) FILTER (WHERE wrong) AS wrong,
       arg_min(format('user {{}} {{}}', user_id, storage_class), user_id || storage_class) FILTER (WHERE wrong) AS first_wrong
FROM judged GROUP BY usage_date
"""


def recompute_params(params: dict[str, object]) -> dict[str, object]:
    """The staging parameters the recomputation uses (DuckDB refuses unused named parameters)."""
    return {k: v for k, v in params.items() if f"${k}" in RECOMPUTE_SQL}


def rules_params(params: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if f"${k}" in RULES_BY_DAY_SQL}
