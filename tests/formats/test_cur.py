"""Cost exports: CUR 2.0 and FOCUS files, Parquet and gzip CSV, and which execution is current."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bucketlens.formats.cur import (
    EXPORT_DAYS_SQL,
    EXPORT_SUMMARY_SQL,
    OPTIONAL_COLUMNS,
    ensure_tables,
    stage_cost_line_items,
)
from bucketlens.formats.cur_exports import CostExport, cost_manifest_keys, find_cost_exports
from bucketlens.formats.errors import SourceFormatError

PERIOD = "2026-09"
DATA = "cur/s3-costs/data/BILLING_PERIOD=2026-09"
META = "cur/s3-costs/metadata/BILLING_PERIOD=2026-09"
D1, D2, D3 = (datetime(2026, 9, d, tzinfo=UTC) for d in (1, 2, 3))
BP = datetime(2026, 9, 1, tzinfo=UTC)

# (type, start, end, product, usage type, operation, resource, amount, cost, unit, rate, description)
LINE_ITEMS = [
    ("Usage", D1, D2, "AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "photo-backup-prod",
     1.5, 0.0345, "GB-Mo", "0.023", "$0.023 per GB - first 50 TB / month of storage used"),
    ("Usage", D2, D3, "AmazonS3", "Requests-Tier1", "PutObject", "photo-backup-prod",
     1234.0, 0.0123456789, "Requests", "0.000005", "$0.005 per 1,000 PUT, COPY, POST, or LIST requests"),
    ("Usage", D1, D2, "AmazonS3GlacierDeepArchive", "TimedStorage-GDA-ByteHrs", "DeepArchiveStorage",
     "photo-backup-prod", 3000.0, 2.97, "GB-Mo", "0.00099", "$0.00099 per GB-Month"),
    ("Usage", D1, D2, "AmazonEC2", "BoxUsage:t3.micro", "RunInstances", "i-0abc",
     24.0, 0.2496, "Hrs", "0.0104", "$0.0104 per On Demand Linux t3.micro Instance Hour"),
    ("Tax", D1, D3, "AmazonS3", "", "", None, 0.0, 0.3, None, None, "Tax for product code AmazonS3"),
    ("Credit", D2, D3, "AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "photo-backup-prod",
     0.0, -1.23e-5, "GB-Mo", "", "AWS credit"),
]  # fmt: skip
CUR2_NAMES = ["line_item_line_item_type", "line_item_usage_start_date", "line_item_usage_end_date",
              "line_item_product_code", "line_item_usage_type", "line_item_operation", "line_item_resource_id",
              "line_item_usage_amount", "line_item_unblended_cost", "pricing_unit", "line_item_unblended_rate",
              "line_item_line_item_description"]  # fmt: skip
FOCUS_NAMES = ["ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "x_ServiceCode", "x_UsageType",
               "x_Operation", "ResourceId", "ConsumedQuantity", "BilledCost", "PricingUnit",
               "ContractedUnitPrice", "ChargeDescription"]  # fmt: skip
SERVICE_NAMES = {"AmazonS3": "Amazon Simple Storage Service", "AmazonS3GlacierDeepArchive": "Amazon S3 Glacier Deep Archive",
                 "AmazonEC2": "Amazon Elastic Compute Cloud"}  # fmt: skip

EXPECTED = [
    # usage_start, usage_end, period, type, product, usage type, operation, resource, amount, cost, unit, rate
    (datetime(2026, 9, 1), datetime(2026, 9, 2), PERIOD, "Usage", "AmazonS3", "TimedStorage-ByteHrs",
     "StandardStorage", "photo-backup-prod", 1.5, Decimal("0.034500"), "GB-Mo", "0.023"),
    (datetime(2026, 9, 1), datetime(2026, 9, 2), PERIOD, "Usage", "AmazonS3GlacierDeepArchive",
     "TimedStorage-GDA-ByteHrs", "DeepArchiveStorage", "photo-backup-prod", 3000.0, Decimal("2.970000"),
     "GB-Mo", "0.00099"),
    (datetime(2026, 9, 1), datetime(2026, 9, 3), PERIOD, "Tax", "AmazonS3", None, None, None, 0.0,
     Decimal("0.300000"), None, None),
    (datetime(2026, 9, 2), datetime(2026, 9, 3), PERIOD, "Credit", "AmazonS3", "TimedStorage-ByteHrs",
     "StandardStorage", "photo-backup-prod", 0.0, Decimal("-0.000012"), "GB-Mo", None),
    # 0.0123456789 (a double in Parquet, text in CSV) rounds to six places, never via float formatting.
    (datetime(2026, 9, 2), datetime(2026, 9, 3), PERIOD, "Usage", "AmazonS3", "Requests-Tier1", "PutObject",
     "photo-backup-prod", 1234.0, Decimal("0.012346"), "Requests", "0.000005"),
]  # fmt: skip
CONTRACT = ("usage_start, usage_end, billing_period, line_item_type, product_code, usage_type, operation, "
            "resource_id, usage_amount, unblended_cost, pricing_unit, unblended_rate")  # fmt: skip


def arrow_line_items(names: list[str], focus: bool = False, drop: tuple[str, ...] = ()) -> pa.Table:
    columns = list(zip(*LINE_ITEMS, strict=True))
    columns = [[v if v != "" else None for v in col] for col in columns]
    table = pa.table(
        {
            names[0]: columns[0],
            names[1]: pa.array(columns[1], pa.timestamp("ms", tz="UTC")),
            names[2]: pa.array(columns[2], pa.timestamp("ms", tz="UTC")),
            names[3]: columns[3],
            names[4]: columns[4],
            names[5]: columns[5],
            names[6]: columns[6],
            names[7]: pa.array(columns[7], pa.float64()),
            names[8]: pa.array(columns[8], pa.float64()),
            names[9]: columns[9],
            names[10]: columns[10],
            names[11]: columns[11],
        }
    )
    if focus:
        table = table.append_column("ServiceName", pa.array([SERVICE_NAMES[p] for p in columns[3]]))
        table = table.append_column(
            "BillingPeriodStart", pa.array([BP] * len(LINE_ITEMS), pa.timestamp("ms", tz="UTC"))
        )
    else:
        table = table.append_column(
            "bill_billing_period_start_date", pa.array([BP] * len(LINE_ITEMS), pa.timestamp("ms", tz="UTC"))
        )
        table = table.append_column("product_region_code", pa.array(["us-east-1"] * len(LINE_ITEMS)))
        table = table.append_column(
            "line_item_usage_account_id", pa.array(["123456789012"] * len(LINE_ITEMS))
        )
    for name in drop:
        table = table.drop_columns([name])
    return table


def write_csv_gz(path: Path, table: pa.Table) -> None:
    """CUR-style gzip CSV with header; timestamps as ISO 'Z' text, numbers as AWS prints them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow(
            [
                v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime)
                else ("1.23E-5" if v == 0.0000123 else "-1.23E-5" if v == -0.0000123 else repr(v))
                if isinstance(v, float) else ("" if v is None else v)
                for v in row.values()
            ]
        )  # fmt: skip
    path.write_bytes(gzip.compress(out.getvalue().encode()))


def export_of(keys: list[str], execution: str | None = None) -> CostExport:
    return CostExport("s3-costs", PERIOD, execution, None, None, keys)


def staged(con) -> list[tuple]:
    return con.execute(
        f"SELECT {CONTRACT} FROM stage_cost_line_items ORDER BY line_item_type, product_code, usage_start, usage_type"
    ).fetchall()


def ordered(rows):
    return sorted(rows, key=lambda r: (r[3], r[4], r[0], r[5] or ""))


# --- staging ----------------------------------------------------------------------------------


def test_cur2_parquet_stages_s3_line_items_only(tmp_path, con):
    path = tmp_path / "a.parquet"
    pq.write_table(arrow_line_items(CUR2_NAMES), path)
    key = f"{DATA}/s3-costs-00001.snappy.parquet"
    load = stage_cost_line_items(con, export_of([key]), {key: str(path)})
    assert staged(con) == ordered(EXPECTED)
    assert load.line_items == 5
    assert load.skipped_other_products == 1  # the EC2 instance hour
    assert load.total_cost == Decimal("3.316834")  # 0.0345 + 0.012346 + 2.97 + 0.3 - 0.000012
    assert (load.first_day, load.last_day) == (date(2026, 9, 1), date(2026, 9, 2))
    assert load.by_line_item_type == {"Credit": 1, "Tax": 1, "Usage": 3}
    assert load.cost_by_line_item_type["Usage"] == Decimal("3.016846")
    assert load.schema_kinds == ["cur2"]
    extra = con.execute(
        "SELECT DISTINCT region, usage_account_id, export_name, execution_id, source_file, schema_kind "
        "FROM stage_cost_line_items"
    ).fetchall()
    assert extra == [("us-east-1", "123456789012", "s3-costs", None, key, "cur2")]


def test_cur2_parquet_and_gzip_csv_stage_identical_rows(tmp_path, con):
    table = arrow_line_items(CUR2_NAMES)
    pq.write_table(table, tmp_path / "a.parquet")
    write_csv_gz(tmp_path / "a.csv.gz", table)
    parquet_key, csv_key = f"{DATA}/x/a.parquet", f"{DATA}/y/a.csv.gz"
    stage_cost_line_items(
        con, export_of([parquet_key]), {parquet_key: str(tmp_path / "a.parquet")}, stage="p"
    )
    load = stage_cost_line_items(con, export_of([csv_key]), {csv_key: str(tmp_path / "a.csv.gz")}, stage="c")
    everything = "* EXCLUDE (source_file)"
    from_parquet = con.execute(f"SELECT {everything} FROM p ORDER BY ALL").fetchall()
    from_csv = con.execute(f"SELECT {everything} FROM c ORDER BY ALL").fetchall()
    assert from_csv == from_parquet
    assert len(from_csv) == 5
    assert (load.skipped_other_products, load.total_cost) == (1, Decimal("3.316834"))


def test_focus_file_maps_to_the_same_contract(tmp_path, con):
    path = tmp_path / "f.parquet"
    pq.write_table(arrow_line_items(FOCUS_NAMES, focus=True), path)
    key = f"{DATA}/focus-00001.snappy.parquet"
    load = stage_cost_line_items(con, export_of([key]), {key: str(path)})
    assert staged(con) == ordered(EXPECTED)
    assert (load.skipped_other_products, load.schema_kinds) == (1, ["focus"])


def test_focus_without_service_code_or_usage_type_uses_service_name(tmp_path, con):
    table = arrow_line_items(FOCUS_NAMES, focus=True, drop=("x_ServiceCode", "x_UsageType"))
    write_csv_gz(tmp_path / "f.csv.gz", table)
    key = f"{DATA}/focus.csv.gz"
    load = stage_cost_line_items(con, export_of([key]), {key: str(tmp_path / "f.csv.gz")})
    rows = con.execute(
        "SELECT DISTINCT product_code, usage_type FROM stage_cost_line_items ORDER BY 1"
    ).fetchall()
    assert rows == [("Amazon S3 Glacier Deep Archive", None), ("Amazon Simple Storage Service", None)]
    assert (load.line_items, load.skipped_other_products) == (5, 1)


def test_missing_resource_id_column_is_null(tmp_path, con):
    path = tmp_path / "a.parquet"
    pq.write_table(arrow_line_items(CUR2_NAMES, drop=("line_item_resource_id",)), path)
    key = f"{DATA}/a.parquet"
    stage_cost_line_items(con, export_of([key]), {key: str(path)})
    assert con.execute("SELECT DISTINCT resource_id FROM stage_cost_line_items").fetchall() == [(None,)]


def test_unknown_columns_name_the_file_and_its_columns(tmp_path, con):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"cost": [1.0], "service": ["s3"]}), path)
    key = f"{DATA}/x.parquet"
    with pytest.raises(SourceFormatError, match=r"^cur/s3-costs/data/BILLING_PERIOD=2026-09/x.parquet: neither a CUR 2.0"
                       r".*its columns are \['cost', 'service'\]"):  # fmt: skip
        stage_cost_line_items(con, export_of([key]), {key: str(path)})


def test_unparsable_cost_names_the_file_and_stages_nothing(tmp_path, con):
    table = arrow_line_items(CUR2_NAMES)
    write_csv_gz(tmp_path / "good.csv.gz", table)
    bad = table.set_column(8, "line_item_unblended_cost", pa.array(["1.0", "lots", "1", "1", "1", "1"]))
    write_csv_gz(tmp_path / "bad.csv.gz", bad)
    keys = [f"{DATA}/good.csv.gz", f"{DATA}/bad.csv.gz"]
    files = {keys[0]: str(tmp_path / "good.csv.gz"), keys[1]: str(tmp_path / "bad.csv.gz")}
    with pytest.raises(
        SourceFormatError, match=r"^cur/s3-costs/data/BILLING_PERIOD=2026-09/bad.csv.gz: cannot read"
    ):
        stage_cost_line_items(con, export_of(keys), files)
    assert con.execute("SELECT count(*) FROM stage_cost_line_items").fetchall() == [(0,)]


def test_rows_of_another_billing_period_are_refused(tmp_path, con):
    path = tmp_path / "a.parquet"
    pq.write_table(arrow_line_items(CUR2_NAMES), path)
    key = "cur/s3-costs/data/BILLING_PERIOD=2026-10/a.parquet"
    with pytest.raises(
        SourceFormatError, match="5 S3 line items belong to billing period 2026-09, not 2026-10"
    ):
        stage_cost_line_items(
            con, CostExport("s3-costs", "2026-10", None, None, None, [key]), {key: str(path)}
        )


def test_restaging_a_period_replaces_it(tmp_path, con):
    pq.write_table(arrow_line_items(CUR2_NAMES), tmp_path / "old.parquet")
    pq.write_table(arrow_line_items(CUR2_NAMES).slice(0, 2), tmp_path / "new.parquet")
    old, new = f"{DATA}/e1/old.parquet", f"{DATA}/e2/new.parquet"
    stage_cost_line_items(con, export_of([old], "e1"), {old: str(tmp_path / "old.parquet")})
    load = stage_cost_line_items(con, export_of([new], "e2"), {new: str(tmp_path / "new.parquet")})
    assert con.execute(
        "SELECT execution_id, count(*) FROM stage_cost_line_items GROUP BY ALL"
    ).fetchall() == [("e2", 2)]
    assert load.total_cost == Decimal("0.046846")


def test_contract_tables_accept_the_stage_and_the_export_summary(tmp_path, con):
    pq.write_table(arrow_line_items(CUR2_NAMES), tmp_path / "a.parquet")
    key = f"{DATA}/a.parquet"
    export = CostExport("s3-costs", PERIOD, "exec-1", f"{META}/s3-costs-Manifest.json",
                        datetime(2026, 9, 3, 6, 30, tzinfo=UTC), [key])  # fmt: skip
    stage_cost_line_items(con, export, {key: str(tmp_path / "a.parquet")})
    con.execute("CREATE SCHEMA raw")
    ensure_tables(con)
    con.execute("INSERT INTO raw.cost_line_items SELECT * FROM stage_cost_line_items")
    assert con.execute("SELECT sum(unblended_cost) FROM raw.cost_line_items").fetchall() == [
        (Decimal("3.316834"),)
    ]
    # What decides which export is the bill: its total, days, accounts and how many optional columns
    # it fills (all 10 here; the Tax line's NULL usage type does not make the column absent).
    total, first, last, accounts, complete = con.execute(
        EXPORT_SUMMARY_SQL.format(stage="stage_cost_line_items")
    ).fetchall()[0]
    assert (total, first, last, accounts, complete) == (
        Decimal("3.316834"), date(2026, 9, 1), date(2026, 9, 2), ["123456789012"], len(OPTIONAL_COLUMNS)
    )  # fmt: skip
    assert con.execute(EXPORT_DAYS_SQL.format(stage="stage_cost_line_items")).fetchall() == [
        (date(2026, 9, 1), 3, Decimal("3.304500")),
        (date(2026, 9, 2), 2, Decimal("0.012334")),
    ]
    # ensure_tables brings a raw.cost_exports of the first release (9 columns) up to date
    con.execute("DROP TABLE raw.cost_exports")
    con.execute(
        "CREATE TABLE raw.cost_exports (billing_period VARCHAR, export_name VARCHAR, execution_id VARCHAR, "
        "manifest_key VARCHAR, export_time TIMESTAMP, files INTEGER, line_items BIGINT, "
        "total_cost DECIMAL(18,6), loaded_at TIMESTAMP)"
    )
    ensure_tables(con)
    columns = [r[0] for r in con.execute("DESCRIBE raw.cost_exports").fetchall()]
    assert columns[-3:] == ["complete_columns", "chosen", "reason"] and len(columns) == 16


# --- discovery --------------------------------------------------------------------------------


def manifest_bytes(execution: str, files: list[str], export_time: str = "2026-09-03T06:30:00Z") -> bytes:
    return json.dumps(
        {
            "version": "1.0",
            "exportName": "s3-costs",
            "executionId": execution,
            "billingPeriod": {"start": "2026-09-01T00:00:00.000Z", "end": "2026-10-01T00:00:00.000Z"},
            "exportTime": export_time,
            "dataFiles": [
                f"s3://billing-bucket/exports/s3-costs/data/BILLING_PERIOD=2026-09/{f}" for f in files
            ],
            "columns": [{"name": "line_item_unblended_cost", "type": "double"}],
        }
    ).encode()


def test_overwrite_export_without_manifest_uses_the_period_folder():
    keys = [
        f"{DATA}/s3-costs-00002.snappy.parquet",
        f"{DATA}/s3-costs-00001.snappy.parquet",
        "cur/s3-costs/data/BILLING_PERIOD=2026-08/s3-costs-00001.snappy.parquet",
        "cur/other/data/BILLING_PERIOD=2026-09/other-00001.csv.gz",
        f"{DATA}/_SUCCESS",
    ]
    assert find_cost_exports(keys, {}, PERIOD) == [
        CostExport("other", PERIOD, None, None, None, ["cur/other/data/BILLING_PERIOD=2026-09/other-00001.csv.gz"]),
        CostExport("s3-costs", PERIOD, None, None, None,
                   [f"{DATA}/s3-costs-00001.snappy.parquet", f"{DATA}/s3-costs-00002.snappy.parquet"]),
    ]  # fmt: skip


def test_create_new_export_without_manifest_uses_the_newest_execution():
    keys = [f"{DATA}/exec-a/s3-costs-00001.snappy.parquet", f"{DATA}/exec-b/s3-costs-00001.snappy.parquet"]
    assert find_cost_exports(keys, {}, PERIOD)[0].execution_id == "exec-b"  # by name
    written = {keys[0]: datetime(2026, 9, 3, tzinfo=UTC), keys[1]: datetime(2026, 9, 2, tzinfo=UTC)}
    newest = find_cost_exports(keys, {}, PERIOD, last_modified=written)[0]
    assert (newest.execution_id, newest.data_keys) == ("exec-a", [keys[0]])


def test_manifest_data_files_are_the_export():
    keys = [
        f"{DATA}/old-exec/s3-costs-00001.snappy.parquet",
        f"{DATA}/new-exec/s3-costs-00001.snappy.parquet",
        f"{DATA}/new-exec/s3-costs-00002.snappy.parquet",
        f"{META}/s3-costs-Manifest.json",
    ]
    manifests = {keys[3]: manifest_bytes("new-exec", ["new-exec/s3-costs-00001.snappy.parquet",
                                                      "new-exec/s3-costs-00002.snappy.parquet"])}  # fmt: skip
    assert cost_manifest_keys(keys, PERIOD) == [keys[3]]
    assert find_cost_exports(keys, manifests, PERIOD) == [
        CostExport(
            "s3-costs", PERIOD, "new-exec", keys[3], datetime(2026, 9, 3, 6, 30, tzinfo=UTC), keys[1:3]
        )
    ]


def test_a_newer_manifest_restates_the_period():
    keys = [
        f"{DATA}/exec-1/s3-costs-00001.snappy.parquet",
        f"{DATA}/exec-2/s3-costs-00001.snappy.parquet",
        f"{META}/exec-1/s3-costs-Manifest.json",
        f"{META}/exec-2/s3-costs-Manifest.json",
    ]
    manifests = {
        keys[2]: manifest_bytes("exec-1", ["exec-1/s3-costs-00001.snappy.parquet"], "2026-09-10T06:00:00Z"),
        keys[3]: manifest_bytes("exec-2", ["exec-2/s3-costs-00001.snappy.parquet"], "2026-09-11T06:00:00Z"),
    }
    [export] = find_cost_exports(keys, manifests, PERIOD)
    assert (export.execution_id, export.manifest_key, export.data_keys) == ("exec-2", keys[3], [keys[1]])
    manifests[keys[2]] = manifest_bytes(
        "exec-1", ["exec-1/s3-costs-00001.snappy.parquet"], "2026-09-12T06:00:00Z"
    )
    assert find_cost_exports(keys, manifests, PERIOD)[0].execution_id == "exec-1"


def test_missing_data_file_named_in_manifest_is_an_error():
    keys = [f"{META}/s3-costs-Manifest.json", f"{DATA}/e/s3-costs-00001.snappy.parquet"]
    manifests = {
        keys[0]: manifest_bytes("e", ["e/s3-costs-00001.snappy.parquet", "e/s3-costs-00002.snappy.parquet"])
    }
    with pytest.raises(
        SourceFormatError,
        match=rf"^{DATA}/e/s3-costs-00002.snappy.parquet: named in manifest {META}/s3-costs-Manifest.json",
    ):
        find_cost_exports(keys, manifests, PERIOD)


def test_manifest_problems_name_the_manifest():
    key = f"{META}/s3-costs-Manifest.json"
    with pytest.raises(SourceFormatError, match=rf"^{key}: manifest is not valid JSON"):
        find_cost_exports([key], {key: b"{"}, PERIOD)
    wrong_period = json.loads(manifest_bytes("e", []))
    wrong_period["billingPeriod"]["start"] = "2026-08-01T00:00:00Z"
    with pytest.raises(
        SourceFormatError, match="billingPeriod.start 2026-08-01T00:00:00Z is not in BILLING_PERIOD=2026-09"
    ):
        find_cost_exports([key], {key: json.dumps(wrong_period).encode()}, PERIOD)
    with pytest.raises(ValueError, match="content was not provided"):
        find_cost_exports([key], {}, PERIOD)
