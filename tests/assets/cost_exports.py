"""Second exports of the generated bill, as AWS Data Exports writes them beside the first: a FOCUS 1.0
export or another CUR 2.0 export of the same account and month, made from the generator's CUR 2.0 file
by renaming its columns (the generator itself writes CUR 2.0 only)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

# FOCUS 1.0 column <- CUR 2.0 expression (AWS's FOCUS export, with its x_ columns).
FOCUS_COLUMNS = {
    "BillingPeriodStart": "bill_billing_period_start_date",
    "ChargePeriodStart": "line_item_usage_start_date",
    "ChargePeriodEnd": "line_item_usage_end_date",
    "ChargeCategory": "line_item_line_item_type",
    "ServiceName": "product['product_name']",
    "x_ServiceCode": "line_item_product_code",
    "x_UsageType": "line_item_usage_type",
    "x_Operation": "line_item_operation",
    "ResourceId": "line_item_resource_id",
    "ConsumedQuantity": "line_item_usage_amount",
    "BilledCost": "line_item_unblended_cost",
    "PricingUnit": "pricing_unit",
    "ListUnitPrice": "line_item_unblended_rate",
    "RegionId": "product_region_code",
    "ChargeDescription": "line_item_line_item_description",
    "SubAccountId": "line_item_usage_account_id",
}


def current_cur_file(root: Path) -> Path:
    """The data file the generated CUR 2.0 export's manifest names (the restated execution)."""
    (manifest,) = root.glob("cur/s3-cur/metadata/BILLING_PERIOD=*/*-Manifest.json")
    (uri,) = json.loads(manifest.read_text())["dataFiles"]
    return root / "cur" / uri.split("/cur/", 1)[1]


def write_copy(
    root: Path,
    export: str,
    focus: bool,
    drop: tuple[str, ...] = (),
    cost_change: tuple[str, str] | None = None,
    account: str | None = None,
) -> Path:
    """Write export ``export`` of the same billing period (no manifest: its execution folder is current).

    ``drop``: columns left out; ``cost_change``: ``(day, "+ 0.05")`` adds to the first S3 Usage line item
    of that day (S3: the line items the bill is loaded from); ``account``: another usage account id (a different bill, not a copy)."""
    source = current_cur_file(root)
    period = source.parent.parent.name  # BILLING_PERIOD=YYYY-MM
    target = root / "cur" / export / "data" / period / "exec-copy" / f"{export}-00001.snappy.parquet"
    target.parent.mkdir(parents=True)
    cost = "line_item_unblended_cost"
    if cost_change:
        day, change = cost_change
        cost = (
            f"CASE WHEN line_item_usage_start_date::DATE = DATE '{day}' AND line_item_line_item_type = 'Usage' "
            f"AND starts_with(line_item_product_code, 'AmazonS3') AND row_number() OVER (PARTITION BY "
            f"line_item_usage_start_date::DATE, starts_with(line_item_product_code, 'AmazonS3') "
            f"ORDER BY identity_line_item_id) = 1 "
            f"THEN line_item_unblended_cost {change} ELSE line_item_unblended_cost END"
        )
    expressions = {"line_item_unblended_cost": cost}
    if account:
        expressions["line_item_usage_account_id"] = f"'{account}'"
    if focus:
        columns = [
            f"{expressions.get(expr, expr)} AS {name}"
            for name, expr in FOCUS_COLUMNS.items()
            if name not in drop
        ]
    else:
        names = duckdb.sql(f"SELECT * FROM read_parquet('{source}') LIMIT 0").columns
        columns = [f"{expressions.get(n, n)} AS {n}" for n in names if n not in drop]
    duckdb.sql(
        f"COPY (SELECT {', '.join(columns)} FROM read_parquet('{source}')) TO '{target}' (FORMAT parquet)"
    )
    return target
