"""usage.service_daily_kpis: the runbooks' KPIs per day — upload success, request errors, cost per upload
and per GB stored, dedup rate, time to first byte, active uploaders — each with its target.

One row per day × KPI (``bucketlens/usage/service_daily_kpis.sql`` says how each is computed), so the
monthly report lists them with their targets and alert rules match a KPI by name (``upload_failures``,
``request_errors``, ``first_byte_time`` in the rules file).
"""

import dagster as dg

from assets.metadata import markdown_table
from assets.window import (
    Check,
    CheckSpec,
    DayResult,
    daily_asset,
    figures_by_day,
    load_in_warehouse,
)
from bucketlens.anomaly.rules_savings import KpiTargets
from bucketlens.usage import SERVICE_DAILY_KPIS_SQL, SERVICE_KPIS
from resources.rules import RulesFile
from resources.warehouse import Warehouse, replace_days

TABLE = "usage.service_daily_kpis"
STAGE = "stage_service_daily_kpis"
TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    usage_date DATE NOT NULL,
    kpi VARCHAR NOT NULL,
    unit VARCHAR,
    value DOUBLE,
    numerator DOUBLE,
    denominator DOUBLE,
    target DOUBLE,
    direction VARCHAR,
    meets_target BOOLEAN,
    display VARCHAR,
    detail VARCHAR
)"""
CONSISTENT = CheckSpec(
    "kpis_consistent",
    "Every KPI once a day; rates within 0..1 and equal to numerator / denominator; success + failure ≤ 1; "
    "p50 ≤ p95; the cost behind cost per upload equals the day's attributed cost.",
)
FIGURES_SQL = f"""
SELECT usage_date, {", ".join(f"max(value) FILTER (WHERE kpi = '{k}') AS {k}" for k in SERVICE_KPIS)},
       count(*) FILTER (WHERE meets_target = false) AS kpis_missing_target
FROM {TABLE} WHERE usage_date BETWEEN $start AND $end GROUP BY usage_date ORDER BY usage_date
"""
CHECK_SQL = f"""
WITH k AS (SELECT * FROM {TABLE} WHERE usage_date BETWEEN $start AND $end),
per_day AS (
    SELECT usage_date,
           count(*) - count(DISTINCT kpi) AS duplicates,
           count(DISTINCT kpi) AS kpis,
           count(*) FILTER (WHERE unit = 'rate' AND (value < 0 OR value > 1
                            OR abs(value - numerator / denominator) > 1e-12)) AS bad_rates,
           coalesce(max(value) FILTER (WHERE kpi = 'upload_success_rate'), 0)
             + coalesce(max(value) FILTER (WHERE kpi = 'upload_failure_rate'), 0) > 1 + 1e-12 AS over_one,
           max(value) FILTER (WHERE kpi = 'time_to_first_byte_p50_ms')
             > max(value) FILTER (WHERE kpi = 'time_to_first_byte_p95_ms') AS p50_above_p95,
           max(numerator) FILTER (WHERE kpi = 'cost_per_upload_usd') AS kpi_cost
    FROM k GROUP BY usage_date
)
SELECT p.usage_date, p.duplicates, p.kpis, p.bad_rates, p.over_one, coalesce(p.p50_above_p95, false) AS p50_above_p95,
       p.kpi_cost, (SELECT sum(amount_usd) FROM cost.user_daily_cost c WHERE c.usage_date = p.usage_date) AS cost
FROM per_day p ORDER BY p.usage_date
"""


def target_params(targets: KpiTargets) -> dict[str, float]:
    return {
        "t_upload_success": targets.upload_success_rate,
        "t_error_rate": targets.error_rate,
        "t_cost_per_upload": targets.cost_per_upload_usd,
        "t_cost_per_gb": targets.cost_per_gb_month_usd,
        "t_dedup": targets.dedup_rate,
        "t_ttfb": targets.time_to_first_byte_ms,
    }


def load_window(con, days, targets: KpiTargets) -> list[DayResult]:
    window = {"start": days[0], "end": days[-1]}
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {SERVICE_DAILY_KPIS_SQL}", window | target_params(targets)
    )
    rows = replace_days(con, TABLE, STAGE, "usage_date", days)
    figures = figures_by_day(con, FIGURES_SQL, window, days)
    checks = figures_by_day(con, CHECK_SQL, window, days)
    results = []
    for day in days:
        f, c = figures[day], checks[day]
        metadata: dict[str, object] = {"dagster/row_count": rows[day]}
        for k in SERVICE_KPIS:
            if f.get(k) is not None:
                metadata[k] = dg.MetadataValue.float(float(f[k]))
        metadata["kpis_missing_target"] = dg.MetadataValue.int(int(f.get("kpis_missing_target") or 0))
        if len(days) == 1:
            table = con.execute(
                f"SELECT kpi, display, target, direction, meets_target, detail FROM {TABLE} "
                "WHERE usage_date = ? ORDER BY list_position(?, kpi)",
                [day, list(SERVICE_KPIS)],
            ).fetchall()
            metadata["kpis"] = markdown_table(
                ["KPI", "value", "target", "", "meets target", "note"],
                [(k, v, "" if t is None else f"{t:g}", d or "", {True: "yes", False: "NO"}.get(m, "—"), n or "")
                 for k, v, t, d, m, n in table],
            )  # fmt: skip
        problems = []
        if c and (c.get("duplicates") or c.get("kpis") != len(SERVICE_KPIS)):
            problems.append(f"{c.get('kpis')} distinct KPIs, {c.get('duplicates')} duplicated")
        if c.get("bad_rates"):
            problems.append(f"{c['bad_rates']} rate(s) outside 0..1 or not numerator / denominator")
        if c.get("over_one"):
            problems.append("upload success + failure rates exceed 1")
        if c.get("p50_above_p95"):
            problems.append("time to first byte p50 above p95")
        if c.get("kpi_cost") is not None and abs(float(c["kpi_cost"]) - float(c.get("cost") or 0)) > 1e-6:
            problems.append(f"cost per upload uses ${c['kpi_cost']}, the day's cost is ${c.get('cost')}")
        check = Check(not problems, {"problems": len(problems)}, "; ".join(problems) or None)
        results.append(DayResult(day, metadata, {CONSISTENT.name: check}))
    return results


@daily_asset(
    "service_daily_kpis",
    "usage",
    checks=(CONSISTENT,),
    deps=("access_log_requests", "inventory_objects", "user_daily_storage", "user_daily_cost"),
)
def service_daily_kpis(
    context: dg.AssetExecutionContext, warehouse: Warehouse, rules: RulesFile
) -> dg.MaterializeResult:
    """One row per KPI and day: value, numerator, denominator, unit, the runbook's target (rules file
    ``kpis.targets``), whether it is met, and the value as shown (``12.50 %``, ``$0.0042``, ``95 ms``)."""
    return load_in_warehouse(context, warehouse, load_window, rules.load().kpis.targets, ddl=TABLE_DDL)
