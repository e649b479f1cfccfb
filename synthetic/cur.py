"""The cost export: CUR 2.0 (Data Exports) Parquet at daily granularity, one execution folder per
export run and a per-billing-period manifest naming the latest execution.

Every amount is derived from the generated usage and priced with ``prices``: storage from the day's
storage totals (state at 00:00, held 24 h; GB-Mo = byte-hours / 2^30 / hours in the month), requests
from the logged requests (5xx and anonymous 403 not billed, lifecycle and deletes free), egress beyond
the month's first 100 GB, retrievals, lifecycle transitions and inventory listing. Days up to
``end - 1`` are exported (the last day is not billed yet). The first billing period also gets an
earlier execution whose Standard storage was understated on two days; the later, restated execution
corrects it and adds a Credit line, and the manifest points at it.
"""

from __future__ import annotations

import calendar
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from synthetic import prices
from synthetic.layout import (
    ACCOUNT_ID,
    BILLING_BUCKET,
    CUR_EXPORT_NAME,
    REGION,
    SOURCE_BUCKET,
    cur_data_dir,
    cur_manifest_path,
    det_hex,
    det_uuid,
    epoch,
)
from synthetic.storage import DayStorage

S3 = "AmazonS3"
GDA = "AmazonS3GlacierDeepArchive"
STORAGE_LINES = {
    "STANDARD": (S3, "TimedStorage-ByteHrs", "StandardStorage"),
    "INTELLIGENT_TIERING": (S3, "TimedStorage-INT-FA-ByteHrs", "IntelligentTieringFAStorage"),
    "STANDARD_IA": (S3, "TimedStorage-SIA-ByteHrs", "StandardIAStorage"),
    "GLACIER_IR": (S3, "TimedStorage-GIR-ByteHrs", "GlacierInstantRetrievalStorage"),
    "GLACIER": (S3, "TimedStorage-GlacierByteHrs", "GlacierStorage"),
    "DEEP_ARCHIVE": (GDA, "TimedStorage-GDA-ByteHrs", "DeepArchiveStorage"),
}
STAGING_LINES = {
    "GLACIER": (S3, "TimedStorage-GlacierStaging", "GlacierS3ObjectOverhead"),
    "DEEP_ARCHIVE": (GDA, "TimedStorage-GDA-Staging", "DeepArchiveS3ObjectOverhead"),
}
TRANSITION_LINES = {
    "STANDARD_IA": (S3, "Requests-SIA-Tier1"),
    "GLACIER_IR": (S3, "Requests-GIR-Tier1"),
    "GLACIER": (S3, "Requests-Tier3"),
    "DEEP_ARCHIVE": (GDA, "Requests-GDA-Tier1"),
}
PRODUCT_NAMES = {S3: "Amazon Simple Storage Service", GDA: "Amazon S3 Glacier Deep Archive"}
KB = 1024
COLUMNS = [
    ("bill_billing_period_start_date", pa.timestamp("ms")),
    ("bill_billing_period_end_date", pa.timestamp("ms")),
    ("bill_payer_account_id", pa.string()),
    ("identity_line_item_id", pa.string()),
    ("identity_time_interval", pa.string()),
    ("line_item_line_item_type", pa.string()),
    ("line_item_usage_start_date", pa.timestamp("ms")),
    ("line_item_usage_end_date", pa.timestamp("ms")),
    ("line_item_product_code", pa.string()),
    ("line_item_usage_type", pa.string()),
    ("line_item_operation", pa.string()),
    ("line_item_resource_id", pa.string()),
    ("line_item_usage_amount", pa.float64()),
    ("line_item_unblended_rate", pa.string()),
    ("line_item_unblended_cost", pa.float64()),
    ("line_item_currency_code", pa.string()),
    ("pricing_unit", pa.string()),
    ("product_region_code", pa.string()),
    ("line_item_line_item_description", pa.string()),
    ("line_item_usage_account_id", pa.string()),
    ("product", pa.map_(pa.string(), pa.string())),
    ("resource_tags", pa.map_(pa.string(), pa.string())),
]
SCHEMA = pa.schema(COLUMNS)

_REQUESTS_SQL = """
SELECT ts_ms // 86400000 AS d,
  count(*) FILTER (op IN ('REST.PUT.OBJECT', 'REST.POST.UPLOADS', 'REST.PUT.PART') AND billable) AS put,
  count(*) FILTER (op = 'REST.GET.BUCKET' AND billable) AS list,
  count(*) FILTER (op = 'REST.GET.OBJECT' AND billable) AS get,
  count(*) FILTER (op = 'REST.HEAD.OBJECT' AND billable) AS head,
  count(*) FILTER (op = 'REST.POST.RESTORE' AND billable) AS restore,
  coalesce(sum(object_size) FILTER (op = 'REST.POST.RESTORE' AND billable), 0) AS restore_bytes,
  coalesce(sum(bytes_sent) FILTER (op = 'REST.GET.OBJECT' AND status IN (200, 206)), 0) AS egress,
  coalesce(sum(bytes_sent) FILTER (op = 'REST.GET.OBJECT' AND status IN (200, 206) AND storage_class = 2), 0) AS sia,
  coalesce(sum(bytes_sent) FILTER (op = 'REST.GET.OBJECT' AND status IN (200, 206) AND storage_class = 3), 0) AS gir
FROM (SELECT *, status < 500 AND NOT (status = 403 AND requester = '-') AND requester <> 'AmazonS3' AS billable
      FROM requests_arrow)
GROUP BY d
"""


@dataclass
class DayUsage:
    """Everything one day is billed for."""

    storage: DayStorage
    requests: dict[str, int]
    transitions: dict[str, int]
    inventory_rows: int


@dataclass
class CurExport:
    """What was written for one billing period."""

    period: date
    execution_ids: list[str]
    data_files: list[str]
    daily_cost: dict[date, float]


def request_usage(con: duckdb.DuckDBPyConnection) -> dict[date, dict[str, int]]:
    """Billable request counts and byte totals per day, from the ``requests_arrow`` view."""
    cur = con.sql(_REQUESTS_SQL)
    names = cur.columns
    out = {}
    for row in cur.fetchall():
        values = dict(zip(names, row, strict=True))
        out[date(1970, 1, 1) + timedelta(days=int(values.pop("d")))] = {k: int(v) for k, v in values.items()}
    return out


def _hours_in_month(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1] * 24


def _period_start(d: date) -> date:
    return d.replace(day=1)


def _next_period(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def day_lines(usage: DayUsage, egress_free_left_gb: float, seed: int) -> tuple[list[dict], float]:
    """Usage line items of one day; returns them and the free egress left for the rest of the month."""
    day = usage.storage.day
    lines: list[dict] = []

    def add(product, usage_type, operation, amount, rate, unit, description):
        if amount > 0 or unit == "GB" and description.startswith("$0.000"):
            lines.append(
                _line(day, "Usage", product, usage_type, operation, amount, rate, unit, description, seed)
            )

    gb_month = 24 / prices.GIB / _hours_in_month(day)
    for cls, (product, usage_type, op) in STORAGE_LINES.items():
        n = usage.storage.objects_by_class.get(cls, 0)
        stored = usage.storage.bytes_by_class.get(cls, 0) + (32 * KB * n if cls in STAGING_LINES else 0)
        rate = prices.STORAGE_PER_GB_MONTH[cls]
        add(
            product, usage_type, op, stored * gb_month, rate, "GB-Mo", f"${rate} per GB-Month of storage used"
        )
    for cls, (product, usage_type, op) in STAGING_LINES.items():
        staged = usage.storage.objects_by_class.get(cls, 0) * 8 * KB
        rate = prices.STORAGE_PER_GB_MONTH["STANDARD"]
        add(
            product,
            usage_type,
            op,
            staged * gb_month,
            rate,
            "GB-Mo",
            f"${rate} per GB-Month of object overhead",
        )
    r = usage.requests
    for count, usage_type, op, rate, product in (
        (r.get("put", 0), "Requests-Tier1", "PutObject", prices.TIER1_PER_REQUEST, S3),
        (r.get("list", 0), "Requests-Tier1", "ListBucket", prices.TIER1_PER_REQUEST, S3),
        (r.get("get", 0), "Requests-Tier2", "GetObject", prices.TIER2_PER_REQUEST, S3),
        (r.get("head", 0), "Requests-Tier2", "HeadObject", prices.TIER2_PER_REQUEST, S3),
        (
            r.get("restore", 0),
            "Requests-GDA-Tier3",
            "RestoreObject",
            prices.DEEP_ARCHIVE_RESTORE_STANDARD_PER_REQUEST,
            GDA,
        ),
    ):
        add(product, usage_type, op, float(count), rate, "Requests", f"${rate * 1000:.4f} per 1,000 requests")
    for cls, count in usage.transitions.items():
        if cls in TRANSITION_LINES:
            product, usage_type = TRANSITION_LINES[cls]
            rate = prices.TRANSITION_PER_REQUEST[cls]
            add(
                product,
                usage_type,
                "S3-LifecycleTransition",
                float(count),
                rate,
                "Requests",
                f"${rate * 1000:.4f} per 1,000 lifecycle transition requests",
            )
    for key, usage_type, op, rate, product in (
        ("sia", "Retrieval-SIA", "GetObject", prices.RETRIEVAL_PER_GB["STANDARD_IA"], S3),
        ("gir", "Retrieval-GIR", "GetObject", prices.RETRIEVAL_PER_GB["GLACIER_IR"], S3),
        (
            "restore_bytes",
            "Standard-Retrieval-Bytes",
            "RestoreObject",
            prices.RETRIEVAL_PER_GB["DEEP_ARCHIVE_STANDARD"],
            GDA,
        ),
    ):
        add(product, usage_type, op, r.get(key, 0) / prices.GIB, rate, "GB", f"${rate} per GB retrieved")
    egress_gb = r.get("egress", 0) / prices.GIB
    free = min(egress_gb, egress_free_left_gb)
    if free > 0:
        add(
            S3,
            "DataTransfer-Out-Bytes",
            "GetObject",
            free,
            0.0,
            "GB",
            "$0.000 per GB - data transfer out under the monthly global free tier",
        )
    add(
        S3,
        "DataTransfer-Out-Bytes",
        "GetObject",
        egress_gb - free,
        prices.EGRESS_PER_GB,
        "GB",
        f"${prices.EGRESS_PER_GB} per GB - first 10 TB / month data transfer out beyond the global free tier",
    )
    add(
        S3,
        "Inventory-ObjectsListed",
        "InventoryObjectsListed",
        float(usage.inventory_rows),
        prices.INVENTORY_PER_OBJECT,
        "Objects",
        "$0.0025 per million objects listed in S3 Inventory",
    )
    return lines, egress_free_left_gb - free


def _line(day, kind, product, usage_type, operation, amount, rate, unit, description, seed) -> dict:
    start = datetime(day.year, day.month, day.day)
    period = _period_start(day)
    return {
        "bill_billing_period_start_date": datetime(period.year, period.month, 1),
        "bill_billing_period_end_date": datetime.combine(_next_period(period), datetime.min.time()),
        "bill_payer_account_id": ACCOUNT_ID,
        "identity_line_item_id": det_hex(
            seed, "line", day, kind, product, usage_type, operation, rate, length=52
        ),
        "identity_time_interval": f"{start:%Y-%m-%dT%H:%M:%SZ}/{start + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}",
        "line_item_line_item_type": kind,
        "line_item_usage_start_date": start,
        "line_item_usage_end_date": start + timedelta(days=1),
        "line_item_product_code": product,
        "line_item_usage_type": usage_type,
        "line_item_operation": operation,
        "line_item_resource_id": SOURCE_BUCKET,
        "line_item_usage_amount": float(amount),
        "line_item_unblended_rate": prices.rate_text(rate),
        "line_item_unblended_cost": round(float(amount) * rate, 10),
        "line_item_currency_code": "USD",
        "pricing_unit": unit,
        "product_region_code": REGION,
        "line_item_line_item_description": description,
        "line_item_usage_account_id": ACCOUNT_ID,
        "product": [
            ("product_name", PRODUCT_NAMES.get(product, product)),
            ("region", REGION),
            ("servicecode", product),
            ("location", "US East (N. Virginia)"),
        ],
        "resource_tags": [("user_app", "photovault")],
    }


def daily_costs(usages: list[DayUsage], seed: int) -> tuple[dict[date, list[dict]], dict[date, float]]:
    """Line items and total cost per day, carrying the egress free tier through each month."""
    lines: dict[date, list[dict]] = {}
    totals: dict[date, float] = {}
    free_left, month = 0.0, None
    for usage in sorted(usages, key=lambda u: u.storage.day):
        day = usage.storage.day
        if _period_start(day) != month:
            month, free_left = _period_start(day), float(prices.EGRESS_FREE_GB_PER_MONTH)
        lines[day], free_left = day_lines(usage, free_left, seed)
        totals[day] = sum(li["line_item_unblended_cost"] for li in lines[day])
    return lines, totals


def write_exports(out_dir: Path, lines: dict[date, list[dict]], end: date, seed: int) -> list[CurExport]:
    """Write each billing period's execution(s) and manifest; the first period is restated once."""
    exports = []
    periods = sorted({_period_start(d) for d in lines})
    for i, period in enumerate(periods):
        days = sorted(d for d in lines if _period_start(d) == period)
        final = [li for d in days for li in lines[d]]
        runs = [final]
        if i == 0:
            runs = [_understated(final, days[:2]), final + [_credit(days[-1], final, seed)]]
        ids, files = [], []
        for n, run in enumerate(runs):
            exec_id = det_uuid(seed, "cur-execution", period, n)
            rel = f"{cur_data_dir(period, exec_id)}/{CUR_EXPORT_NAME}-00001.snappy.parquet"
            path = out_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(run, schema=SCHEMA), path, compression="snappy")
            ids.append(exec_id)
            files.append(rel)
        export_time = epoch(min(end, _next_period(period))) + 6 * 3600
        _write_manifest(out_dir, period, ids[-1], files[-1], export_time)
        totals: dict[date, float] = {}
        for li in runs[-1]:
            if li["line_item_product_code"] not in PRODUCT_NAMES:  # the bucket's cost only (no CDN)
                continue
            d = li["line_item_usage_start_date"].date()
            totals[d] = totals.get(d, 0.0) + li["line_item_unblended_cost"]
        exports.append(CurExport(period, ids, files, totals))
    return exports


def _understated(final: list[dict], days: list[date]) -> list[dict]:
    """The earlier execution: Standard storage on ``days`` reported 7 % low (later restated)."""
    out = []
    for li in final:
        li = dict(li)
        if (
            li["line_item_usage_type"] == "TimedStorage-ByteHrs"
            and li["line_item_usage_start_date"].date() in days
        ):
            li["line_item_usage_amount"] *= 0.93
            li["line_item_unblended_cost"] = round(li["line_item_unblended_cost"] * 0.93, 10)
        out.append(li)
    return out


def _credit(day: date, final: list[dict], seed: int) -> dict:
    """A service credit worth 5 % of the period's S3 usage, booked on its last exported day."""
    total = sum(
        li["line_item_unblended_cost"] for li in final if li["line_item_product_code"] in PRODUCT_NAMES
    )
    credit = _line(day, "Credit", S3, "", "", 0.0, 0.0, "", "AWS service credit", seed)
    credit["line_item_unblended_cost"] = -round(total * 0.05, 6)
    credit["line_item_unblended_rate"] = ""
    credit["pricing_unit"] = ""
    return credit


def _write_manifest(out_dir: Path, period: date, exec_id: str, data_file: str, export_time: int) -> None:
    stamp = datetime.fromtimestamp(export_time, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    manifest = {
        "executionId": exec_id,
        "exportArn": f"arn:aws:bcm-data-exports:{REGION}:{ACCOUNT_ID}:export/{CUR_EXPORT_NAME}-{det_uuid(0, 'export')}",
        "exportName": CUR_EXPORT_NAME,
        "billingPeriod": {
            "start": f"{period:%Y-%m-%d}T00:00:00.000Z",
            "end": f"{_next_period(period):%Y-%m-%d}T00:00:00.000Z",
        },
        "exportCreationTime": stamp,
        "exportTime": stamp,
        "dataFiles": [f"s3://{BILLING_BUCKET}/{data_file}"],
        "columns": [{"name": name, "type": _type_name(t)} for name, t in COLUMNS],
    }
    path = out_dir / cur_manifest_path(period)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2))


def _type_name(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_map(t):
        return "map<string,string>"
    return "double" if pa.types.is_floating(t) else "string"
