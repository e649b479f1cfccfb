"""The naive pandas baseline of the attribution benchmark: ``user_daily_storage`` and ``user_daily_cost``
computed the obvious way from Parquet exports, with no DuckDB.

Why it exists: design §10 reports the warehouse path as a ratio against "a naive pandas implementation
run in the same run". Naive means the code a careful analyst would write first — read the whole file
into a DataFrame, ``groupby``/``merge``/``sort_values`` — not a tuned one; *correct* means it produces
the same rows to the byte and to the micro-dollar, so the comparison is of equals. It follows
``assets/usage/user_daily_storage.STAGE_SQL`` and ``bucketlens.costing.allocation`` step by step:
billed versions only (delete markers never), byte-hours = bytes × 24, duplicates = current copies of
the same (ETag, size) under one user after the oldest; each line item split by its driver's weights
with integer micro-dollars and the largest remainder (ties to the smaller user id), items without
weight whole to ``_shared``, then adjustments split over each user's net usage cost. Products ``|c|·w``
exceed int64, so they are Python ints (object columns); everything else is int64.

Only the storage drivers (byte-hours, archive object counts) have weights here: the benchmark's bill
has no request, transfer or retrieval lines and its request table is empty, so such items would (as in
the warehouse) go to ``_shared``. Line items are classified with ``bucketlens.costing.usage_types.classify``,
the Python twin of the SQL classifier (importing it loads the duckdb module, ~20 MiB of RSS; no DuckDB
query runs).

Run as ``python -m benchmarks.naive_pandas INVENTORY.parquet LINE_ITEMS.parquet DAY OUT_DIR``:
prints one JSON line with the timings and writes ``storage.parquet`` and ``cost.parquet`` to OUT_DIR.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.compared import COST_KEY, STORAGE_VALUES
from bucketlens.costing.usage_types import ADJUSTMENT_DRIVER, classify

SHARED_USER = "_shared"
ARCHIVE = ("GLACIER", "DEEP_ARCHIVE")
SMALL_OBJECT_BYTES = 131072
STORAGE_COLUMNS = ["user_id", "storage_class", *STORAGE_VALUES]
COST_COLUMNS = list(COST_KEY)  # a list: pandas groups by a list of columns


def user_daily_storage(inventory: pd.DataFrame, day: date) -> pd.DataFrame:
    """One row per (user_id, storage_class): the columns of ``usage.user_daily_storage`` but the date."""
    v = inventory[~inventory["is_delete_marker"].fillna(False).astype(bool)].copy()
    v["storage_class"] = v["storage_class"].fillna("STANDARD")
    v["size"] = v["size"].fillna(0).astype("int64")
    v["is_latest"] = v["is_latest"].fillna(True).astype(bool)
    since = pd.Timestamp(day) - pd.Timedelta(days=1)
    v["added"] = np.where(v["last_modified"] >= since, v["size"], 0)
    v["noncurrent"] = np.where(~v["is_latest"], v["size"], 0)
    v["small"] = v["size"] < SMALL_OBJECT_BYTES
    per_class = (
        v.groupby(["user_id", "storage_class"])
        .agg(
            object_count=("size", "size"),
            bytes=("size", "sum"),
            bytes_added=("added", "sum"),
            noncurrent_bytes=("noncurrent", "sum"),
            small_object_count=("small", "sum"),
        )
        .reset_index()
    )
    per_class["byte_hours"] = per_class["bytes"] * 24

    copies = v[v["is_latest"] & v["e_tag"].notna() & (v["size"] > 0)]
    copies = copies.sort_values(["user_id", "e_tag", "size", "last_modified", "storage_class"])
    later = copies[copies.duplicated(["user_id", "e_tag", "size"], keep="first")]
    duplicates = (
        later.groupby(["user_id", "storage_class"])["size"].sum().rename("duplicate_bytes").reset_index()
    )
    out = per_class.merge(duplicates, on=["user_id", "storage_class"], how="left")
    out["duplicate_bytes"] = out["duplicate_bytes"].fillna(0).astype("int64")
    return out[STORAGE_COLUMNS].astype({c: "int64" for c in STORAGE_COLUMNS[2:]})


def _label(row: tuple, driver: str) -> str:
    """The ``usage_type`` column of ``cost.user_daily_cost`` (see ``allocation.ITEMS_SQL``)."""
    if driver == ADJUSTMENT_DRIVER:
        return (row.line_item_type or "Adjustment") + (f":{row.usage_type}" if row.usage_type else "")
    return row.usage_type or f"FOCUS:{row.operation or ''}/{row.pricing_unit or ''}"


def cost_items(line_items: pd.DataFrame, day: date) -> pd.DataFrame:
    """The day's line items grouped by (category, driver, storage_class, usage_type), cost in µ$."""
    li = line_items[pd.to_datetime(line_items["usage_start"]).dt.date == day].copy()
    li["cost_micro"] = [int(Decimal(c).scaleb(6)) for c in li["unblended_cost"]]
    kinds = ["line_item_type", "product_code", "usage_type", "operation", "pricing_unit"]
    classified = []
    for row in li[kinds].itertuples(index=False):
        c = classify(row.product_code, row.usage_type, row.line_item_type, row.operation, row.pricing_unit)
        classified.append((c.category, c.driver, c.storage_class, _label(row, c.driver)))
    li[["category", "driver", "storage_class", "usage_type"]] = pd.DataFrame(classified, index=li.index)
    items = li.groupby(["category", "driver", "storage_class", "usage_type"], dropna=False)[
        "cost_micro"
    ].sum()
    items = items.reset_index().sort_values(["category", "driver", "storage_class", "usage_type"])
    items["item_id"] = np.arange(1, len(items) + 1)
    items["wkey"] = items["storage_class"].fillna("*")
    return items


def storage_weights(storage: pd.DataFrame) -> pd.DataFrame:
    """(driver, wkey, user_id, w) for the storage drivers, per class and summed over classes ('*')."""
    s = storage.assign(sc=storage["storage_class"].str.strip().str.upper())
    archive = np.where(s["sc"].isin(ARCHIVE), s["object_count"], s["small_object_count"])
    measures = pd.concat(
        [
            pd.DataFrame(
                {"driver": "byte_hours", "wkey": s["sc"], "user_id": s["user_id"], "w": s["byte_hours"]}
            ),
            pd.DataFrame(
                {"driver": "archive_objects", "wkey": s["sc"], "user_id": s["user_id"], "w": archive}
            ),
        ]
    )
    measures["w"] = measures["w"].clip(lower=0)
    per_class = measures.groupby(["driver", "wkey", "user_id"], as_index=False)["w"].sum()
    per_class = per_class[per_class["w"] > 0]
    everything = per_class.groupby(["driver", "user_id"], as_index=False)["w"].sum().assign(wkey="*")
    return pd.concat([per_class, everything[everything["w"] > 0]], ignore_index=True)


def split(items: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Largest-remainder split of every item over its weights → (item_id, user_id, micro)."""
    joined = items[["item_id", "driver", "wkey", "cost_micro"]].merge(weights, on=["driver", "wkey"])
    a = joined["cost_micro"].abs()
    total = joined.groupby("item_id")["w"].transform("sum")
    product = a.astype(object) * joined["w"].astype(object)  # up to ~10^24: Python ints
    joined["base"] = (product // total.astype(object)).astype("int64")
    joined["remainder"] = (product % total.astype(object)).astype("int64")
    joined["leftover"] = a - joined.groupby("item_id")["base"].transform("sum")
    joined = joined.sort_values(["item_id", "remainder", "user_id"], ascending=[True, False, True])
    place = joined.groupby("item_id").cumcount() + 1
    sign = np.where(joined["cost_micro"] < 0, -1, 1)
    joined["micro"] = sign * (joined["base"] + (place <= joined["leftover"]).astype("int64"))
    orphans = items[
        ~items.set_index(["driver", "wkey"]).index.isin(weights.set_index(["driver", "wkey"]).index)
    ]
    shared = pd.DataFrame(
        {"item_id": orphans["item_id"], "user_id": SHARED_USER, "micro": orphans["cost_micro"]}
    )
    return pd.concat([joined[["item_id", "user_id", "micro"]], shared], ignore_index=True)


def user_daily_cost(storage: pd.DataFrame, line_items: pd.DataFrame, day: date) -> pd.DataFrame:
    """One row per (user_id, category, storage_class, driver, usage_type) with a non-zero ``micro``."""
    items = cost_items(line_items, day)
    usage_items = items[items["driver"] != ADJUSTMENT_DRIVER]
    shares = split(usage_items, storage_weights(storage))
    net = shares.groupby("user_id", as_index=False)["micro"].sum()
    adjustment_weights = pd.DataFrame(
        {"driver": ADJUSTMENT_DRIVER, "wkey": "*", "user_id": net["user_id"], "w": net["micro"]}
    )[net["micro"] > 0]
    adjustment_shares = split(items[items["driver"] == ADJUSTMENT_DRIVER], adjustment_weights)
    all_shares = pd.concat([shares, adjustment_shares], ignore_index=True).merge(items, on="item_id")
    out = all_shares.groupby(COST_COLUMNS, dropna=False, as_index=False)["micro"].sum()
    return out[out["micro"] != 0].reset_index(drop=True)


def run(inventory_path: Path, line_items_path: Path, day: date, out_dir: Path) -> dict[str, float | int]:
    """Read, compute, write; return the timing of each step (seconds) and the row counts."""
    t0 = time.perf_counter()
    inventory = pd.read_parquet(inventory_path)
    t1 = time.perf_counter()
    storage = user_daily_storage(inventory, day)
    t2 = time.perf_counter()
    cost = user_daily_cost(storage, pd.read_parquet(line_items_path), day)
    t3 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    storage.to_parquet(out_dir / "storage.parquet", index=False)
    cost.to_parquet(out_dir / "cost.parquet", index=False)
    t4 = time.perf_counter()
    return {
        "read_seconds": round(t1 - t0, 3),
        "user_daily_storage_seconds": round(t2 - t1, 3),
        "user_daily_cost_seconds": round(t3 - t2, 3),
        "write_seconds": round(t4 - t3, 3),
        "seconds": round(t4 - t0, 3),
        "storage_rows": len(storage),
        "cost_rows": len(cost),
    }


if __name__ == "__main__":
    inventory_arg, line_items_arg, day_arg, out_arg = sys.argv[1:5]
    print(
        json.dumps(run(Path(inventory_arg), Path(line_items_arg), date.fromisoformat(day_arg), Path(out_arg)))
    )
