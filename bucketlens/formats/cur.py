"""AWS cost exports (CUR 2.0 Data Exports and FOCUS 1.0) staged into DuckDB.

The cost export is the bill: per-user cost attribution must add up to it to the cent. Two facts shape
this reader. First, AWS rewrites a billing period's export at least daily and may restate closed
months, so the *current* export of a period (found by ``bucketlens.formats.cur_exports``) replaces
everything staged before for that period. Second, the same bill arrives under two column vocabularies (CUR 2.0 snake_case and FOCUS
PascalCase) and in two encodings (Parquet with doubles, gzip CSV with text); both map onto one
contract, and costs go double → DECIMAL(38,10) → DECIMAL(18,6) so no float formatting leaks into money.

Only S3 (``AmazonS3*`` product codes, including ``AmazonS3GlacierDeepArchive``) and CloudFront
(``AmazonCloudFront``, the CDN in front of the bucket) are kept; other products are counted, not staged. Functions are pure: local files in, TEMP tables out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from bucketlens.duckdb_options import STAGING_SETTINGS, scoped_settings
from bucketlens.formats.cur_exports import CostExport
from bucketlens.formats.errors import SourceFormatError

COLUMNS: tuple[tuple[str, str], ...] = (
    ("usage_start", "TIMESTAMP"),
    ("usage_end", "TIMESTAMP"),
    ("billing_period", "VARCHAR"),
    ("line_item_type", "VARCHAR"),
    ("product_code", "VARCHAR"),
    ("usage_type", "VARCHAR"),
    ("operation", "VARCHAR"),
    ("resource_id", "VARCHAR"),
    ("usage_amount", "DOUBLE"),
    ("unblended_cost", "DECIMAL(18,6)"),
    ("pricing_unit", "VARCHAR"),
    ("unblended_rate", "VARCHAR"),
    ("region", "VARCHAR"),
    ("description", "VARCHAR"),
    ("usage_account_id", "VARCHAR"),
    ("export_name", "VARCHAR"),
    ("execution_id", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("schema_kind", "VARCHAR"),
)
_COLUMN_LIST = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
TABLE_DDL = f"CREATE TABLE IF NOT EXISTS raw.cost_line_items (\n    {_COLUMN_LIST}\n)"
STAGE_DDL = "CREATE TEMP TABLE IF NOT EXISTS {stage} (\n    " + _COLUMN_LIST + "\n)"
# One row per export found for a billing period, whether chosen or not: two exports of one account and
# period (CUR 2.0 and FOCUS, a CUR 2.0 export and its copy) are one bill, and only the chosen one is in
# raw.cost_line_items (bucketlens.costing.exports says which and why).
EXPORTS_DDL = """CREATE TABLE IF NOT EXISTS raw.cost_exports (
    billing_period VARCHAR,
    export_name VARCHAR,
    execution_id VARCHAR,
    manifest_key VARCHAR,
    export_time TIMESTAMP,
    files INTEGER,
    line_items BIGINT,
    total_cost DECIMAL(18,6),
    loaded_at TIMESTAMP,
    schema_kind VARCHAR,
    usage_accounts VARCHAR,
    first_day DATE,
    last_day DATE,
    complete_columns INTEGER,
    chosen BOOLEAN,
    reason VARCHAR
)"""
# Columns added after the first release: a warehouse created before gets them (chosen stays NULL for
# periods loaded then, until a run replaces the period).
EXPORTS_ADDED_COLUMNS = (
    ("schema_kind", "VARCHAR"),
    ("usage_accounts", "VARCHAR"),
    ("first_day", "DATE"),
    ("last_day", "DATE"),
    ("complete_columns", "INTEGER"),
    ("chosen", "BOOLEAN"),
    ("reason", "VARCHAR"),
)
# Each export's S3 cost per day, chosen or not: what the reconciliation holds the split to.
EXPORT_DAYS_DDL = """CREATE TABLE IF NOT EXISTS raw.cost_export_days (
    billing_period VARCHAR,
    export_name VARCHAR,
    execution_id VARCHAR,
    usage_date DATE,
    line_items BIGINT,
    cost DECIMAL(18,6)
)"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or bring up to date) ``raw.cost_line_items``, ``raw.cost_exports`` and ``raw.cost_export_days``."""
    con.execute(TABLE_DDL)
    con.execute(EXPORTS_DDL)
    for name, sql_type in EXPORTS_ADDED_COLUMNS:
        con.execute(f"ALTER TABLE raw.cost_exports ADD COLUMN IF NOT EXISTS {name} {sql_type}")
    con.execute(EXPORT_DAYS_DDL)


# Contract columns an export may or may not fill: the more of them it fills, the more the split can use
# (a FOCUS export has no usage type; an export without resource ids cannot name the bucket).
OPTIONAL_COLUMNS = ("usage_end", "usage_type", "operation", "resource_id", "usage_amount", "pricing_unit",
                    "unblended_rate", "region", "description", "usage_account_id")  # fmt: skip
EXPORT_SUMMARY_SQL = (
    "SELECT coalesce(sum(unblended_cost), 0)::DECIMAL(18,6), min(usage_start)::DATE, max(usage_start)::DATE, "
    "list(DISTINCT usage_account_id ORDER BY usage_account_id) FILTER (WHERE usage_account_id IS NOT NULL), "
    + " + ".join(f"(count({c}) > 0)::INTEGER" for c in OPTIONAL_COLUMNS)
    + " FROM {stage}"
)
EXPORT_DAYS_SQL = """
SELECT usage_start::DATE AS usage_date, count(*) AS line_items, sum(unblended_cost)::DECIMAL(18,6) AS cost
FROM {stage} GROUP BY ALL ORDER BY 1
"""

# Contract column -> source column, per vocabulary. The first present alternative wins; a column
# with no present alternative is NULL. Required columns identify the vocabulary.
CUR2_SOURCES: dict[str, tuple[str, ...]] = {
    "usage_start": ("line_item_usage_start_date",),
    "usage_end": ("line_item_usage_end_date",),
    "billing_period_start": ("bill_billing_period_start_date",),
    "line_item_type": ("line_item_line_item_type",),
    "product_code": ("line_item_product_code",),
    "usage_type": ("line_item_usage_type",),
    "operation": ("line_item_operation",),
    "resource_id": ("line_item_resource_id",),
    "usage_amount": ("line_item_usage_amount",),
    "unblended_cost": ("line_item_unblended_cost",),
    "pricing_unit": ("pricing_unit",),
    "unblended_rate": ("line_item_unblended_rate",),
    "region": ("product_region_code", "product_region"),
    "description": ("line_item_line_item_description",),
    "usage_account_id": ("line_item_usage_account_id",),
}
CUR2_REQUIRED = ("line_item_line_item_type", "line_item_product_code", "line_item_usage_start_date",
                 "line_item_unblended_cost")  # fmt: skip
FOCUS_SOURCES: dict[str, tuple[str, ...]] = {
    "usage_start": ("ChargePeriodStart",),
    "usage_end": ("ChargePeriodEnd",),
    "billing_period_start": ("BillingPeriodStart",),
    "line_item_type": ("ChargeCategory",),
    "product_code": ("x_ServiceCode", "ServiceName"),
    "usage_type": ("x_UsageType",),
    "operation": ("x_Operation",),
    "resource_id": ("ResourceId",),
    "usage_amount": ("ConsumedQuantity",),
    "unblended_cost": ("BilledCost",),
    "pricing_unit": ("PricingUnit",),
    "unblended_rate": ("ContractedUnitPrice", "ListUnitPrice"),
    "region": ("RegionId", "Region"),
    "description": ("ChargeDescription",),
    "usage_account_id": ("SubAccountId",),
}
FOCUS_REQUIRED = ("ChargeCategory", "ChargePeriodStart", "BilledCost")

# S3 and CloudFront: CUR product codes AmazonS3* / AmazonCloudFront, FOCUS by service code or name.
CUR2_IS_S3 = (
    "(starts_with(coalesce({line_item_product_code}, ''), 'AmazonS3')"
    " OR coalesce({line_item_product_code}, '') = 'AmazonCloudFront')"
)
FOCUS_IS_S3 = (
    "(starts_with(coalesce({x_ServiceCode}, ''), 'AmazonS3') OR coalesce({x_ServiceCode}, '') = 'AmazonCloudFront'"
    " OR contains(coalesce({ServiceName}, ''), 'S3') OR contains(coalesce({ServiceName}, ''), 'Simple Storage Service')"
    " OR contains(coalesce({ServiceName}, ''), 'CloudFront'))"
)

FILE_ROWS = """
CREATE OR REPLACE TEMP TABLE _bucketlens_cur_file AS
SELECT
    {usage_start} AS usage_start,
    {usage_end} AS usage_end,
    coalesce(strftime({billing_period_start}, '%Y-%m'), ?) AS billing_period,
    {line_item_type} AS line_item_type,
    {product_code} AS product_code,
    {usage_type} AS usage_type,
    {operation} AS operation,
    {resource_id} AS resource_id,
    {usage_amount} AS usage_amount,
    {unblended_cost} AS unblended_cost,
    {pricing_unit} AS pricing_unit,
    {unblended_rate} AS unblended_rate,
    {region} AS region,
    {description} AS description,
    {usage_account_id} AS usage_account_id,
    ? AS export_name,
    ? AS execution_id,
    ? AS source_file,
    ? AS schema_kind,
    {is_s3} AS is_s3
FROM {source}
"""
MOVE_S3_ROWS = "INSERT INTO {stage} SELECT * EXCLUDE (is_s3) FROM _bucketlens_cur_file WHERE is_s3"
FILE_COUNTS = """
SELECT count(*) FILTER (WHERE NOT is_s3),
       count(*) FILTER (WHERE is_s3 AND billing_period <> ?),
       any_value(billing_period) FILTER (WHERE is_s3 AND billing_period <> ?)
FROM _bucketlens_cur_file
"""
LOAD_SUMMARY = """
SELECT count(*), coalesce(sum(unblended_cost), 0), min(usage_start)::DATE, max(usage_start)::DATE
FROM {stage} WHERE export_name = ? AND billing_period = ?
"""
LOAD_BY_TYPE = """
SELECT coalesce(line_item_type, ''), count(*), coalesce(sum(unblended_cost), 0)
FROM {stage} WHERE export_name = ? AND billing_period = ? GROUP BY ALL ORDER BY 1
"""
FORGET_EXPORT = "DELETE FROM {stage} WHERE export_name = ? AND billing_period = ?"


@dataclass
class CostLoad:
    export_name: str
    billing_period: str
    files: int = 0
    line_items: int = 0
    skipped_other_products: int = 0
    total_cost: Decimal = Decimal("0")
    first_day: date | None = None
    last_day: date | None = None
    by_line_item_type: dict[str, int] = field(default_factory=dict)
    cost_by_line_item_type: dict[str, Decimal] = field(default_factory=dict)
    schema_kinds: list[str] = field(default_factory=list)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _source_sql(path: str) -> str:
    if path.endswith(".parquet"):
        return "read_parquet(?)"
    return "read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"')"


def _timestamp(column: str, source_type: str) -> str:
    upper = source_type.upper()
    if upper == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {column})"
    if upper.startswith("TIMESTAMP") or upper == "DATE":
        return f"CAST({column} AS TIMESTAMP)"
    # Text: with an offset ("…Z", "+00:00") it is converted; without one it is read as UTC.
    return f"timezone('UTC', CAST(NULLIF(TRIM({column}), '') AS TIMESTAMPTZ))"


def _money(column: str, source_type: str) -> str:
    if source_type.upper().startswith("DECIMAL"):
        return f"CAST({column} AS DECIMAL(18,6))"
    return f"CAST(CAST({column} AS DECIMAL(38,10)) AS DECIMAL(18,6))"


TARGET_KINDS = {
    "usage_start": "timestamp", "usage_end": "timestamp", "billing_period_start": "timestamp",
    "usage_amount": "double", "unblended_cost": "money",
}  # fmt: skip


def _expressions(sources: dict[str, tuple[str, ...]], present: dict[str, tuple[str, str]]) -> dict[str, str]:
    """SQL expression per contract column, from the columns the file has (case-insensitive)."""
    exprs = {}
    for target, alternatives in sources.items():
        hit = next((present[a.lower()] for a in alternatives if a.lower() in present), None)
        kind = TARGET_KINDS.get(target, "text")
        if hit is None:
            exprs[target] = {"timestamp": "NULL::TIMESTAMP", "double": "NULL::DOUBLE",
                             "money": "NULL::DECIMAL(18,6)"}.get(kind, "NULL::VARCHAR")  # fmt: skip
            continue
        column, source_type = _quote(hit[0]), hit[1]
        exprs[target] = {
            "timestamp": _timestamp(column, source_type),
            "double": f"CAST({column} AS DOUBLE)",
            "money": _money(column, source_type),
        }.get(kind, f"CAST({column} AS VARCHAR)")
    return exprs


def _is_s3_expr(kind: str, present: dict[str, tuple[str, str]]) -> str:
    names = ("line_item_product_code",) if kind == "cur2" else ("x_ServiceCode", "ServiceName")
    refs = {n: _quote(present[n.lower()][0]) if n.lower() in present else "NULL" for n in names}
    return (CUR2_IS_S3 if kind == "cur2" else FOCUS_IS_S3).format(**refs)


def _detect(file_key: str, present: dict[str, tuple[str, str]]) -> str:
    if all(c.lower() in present for c in CUR2_REQUIRED):
        return "cur2"
    if all(c.lower() in present for c in FOCUS_REQUIRED) and (
        "x_servicecode" in present or "servicename" in present
    ):
        return "focus"
    columns = sorted(v[0] for v in present.values())
    raise SourceFormatError(
        file_key,
        "neither a CUR 2.0 export (needs "
        + ", ".join(CUR2_REQUIRED)
        + ") nor FOCUS 1.0 (needs "
        + ", ".join(FOCUS_REQUIRED)
        + f", ServiceName or x_ServiceCode); its columns are {columns}",
    )


def _stage_file(con, stage: str, export: CostExport, key: str, path: str) -> tuple[int, str]:
    source = _source_sql(path)
    described = con.execute(f"DESCRIBE SELECT * FROM {source}", [path]).fetchall()
    present = {row[0].lower(): (row[0], row[1]) for row in described}
    kind = _detect(key, present)
    exprs = _expressions(CUR2_SOURCES if kind == "cur2" else FOCUS_SOURCES, present)
    sql = FILE_ROWS.format(source=source, is_s3=_is_s3_expr(kind, present), **exprs)
    con.execute(sql, [export.billing_period, export.export_name, export.execution_id, key, kind, path])
    skipped, foreign, sample = con.execute(FILE_COUNTS, [export.billing_period] * 2).fetchall()[0]
    if foreign:
        raise SourceFormatError(
            key, f"{foreign} S3 line items belong to billing period {sample}, not {export.billing_period}"
        )
    con.execute(MOVE_S3_ROWS.format(stage=stage))
    return skipped, kind


def stage_cost_line_items(
    con: duckdb.DuckDBPyConnection,
    export: CostExport,
    local_files: dict[str, str],
    stage: str = "stage_cost_line_items",
) -> CostLoad:
    """Stage the S3 line items of ``export`` into TEMP table ``stage`` (replacing that export's period).

    ``local_files`` maps each data key to a local copy. All files or none: a file that cannot be
    read or typed raises :class:`SourceFormatError` naming it and leaves nothing of the export staged.
    """
    missing = [k for k in export.data_keys if k not in local_files]
    if missing:
        raise SourceFormatError(missing[0], f"data file of export {export.export_name} has no local copy")
    con.execute(STAGE_DDL.format(stage=stage))
    forget = FORGET_EXPORT.format(stage=stage)
    con.execute(forget, [export.export_name, export.billing_period])
    skipped, kinds = 0, set()
    with scoped_settings(con, STAGING_SETTINGS):
        try:
            for key in export.data_keys:
                try:
                    file_skipped, kind = _stage_file(con, stage, export, key, local_files[key])
                except duckdb.Error as exc:
                    raise SourceFormatError(key, f"cannot read cost export file: {exc}") from exc
                skipped += file_skipped
                kinds.add(kind)
        except Exception:
            con.execute(forget, [export.export_name, export.billing_period])
            raise
        finally:
            con.execute("DROP TABLE IF EXISTS _bucketlens_cur_file")
    params = [export.export_name, export.billing_period]
    rows, total, first, last = con.execute(LOAD_SUMMARY.format(stage=stage), params).fetchall()[0]
    by_type = con.execute(LOAD_BY_TYPE.format(stage=stage), params).fetchall()
    return CostLoad(
        export_name=export.export_name,
        billing_period=export.billing_period,
        files=len(export.data_keys),
        line_items=rows,
        skipped_other_products=skipped,
        total_cost=Decimal(total),
        first_day=first,
        last_day=last,
        by_line_item_type={t: n for t, n, _ in by_type},
        cost_by_line_item_type={t: Decimal(c) for t, _, c in by_type},
        schema_kinds=sorted(kinds),
    )


def record_direct_bill(con: duckdb.DuckDBPyConnection, day: date, reason: str) -> None:
    """Record line items written straight into ``raw.cost_line_items`` for ``day`` (a benchmark's own
    bill, not read from an export) as the chosen export(s) of the day, with their cost per day, so the
    checks that hold the split to the chosen export hold it to these."""
    ensure_tables(con)
    exports = con.execute(
        "SELECT DISTINCT billing_period, export_name, execution_id, schema_kind FROM raw.cost_line_items "
        "WHERE usage_start::DATE = ?",
        [day],
    ).fetchall()
    for period, name, execution, kind in exports:
        con.execute(
            "DELETE FROM raw.cost_exports WHERE billing_period = ? AND export_name = ?", [period, name]
        )
        con.execute(
            "INSERT INTO raw.cost_exports BY NAME SELECT ?::VARCHAR AS billing_period, ?::VARCHAR AS export_name, "
            "?::VARCHAR AS execution_id, ?::VARCHAR AS schema_kind, true AS chosen, ?::VARCHAR AS reason, "
            "now()::TIMESTAMP AS loaded_at",
            [period, name, execution, kind, reason],
        )
        con.execute(
            "DELETE FROM raw.cost_export_days WHERE billing_period = ? AND export_name = ? AND usage_date = ?",
            [period, name, day],
        )
        con.execute(
            "INSERT INTO raw.cost_export_days SELECT billing_period, export_name, execution_id, usage_start::DATE, "
            "count(*), sum(unblended_cost)::DECIMAL(18,6) FROM raw.cost_line_items "
            "WHERE usage_start::DATE = ? AND billing_period = ? AND export_name = ? GROUP BY ALL",
            [day, period, name],
        )
