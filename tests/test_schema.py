"""How the raw tables store their strings: nearly unique ones with zstd, S3's random host IDs uncompressed,
repeating ones with DuckDB's default.

Why it matters: the compression is chosen when a table is created, so a DDL that silently lost its
``USING COMPRESSION`` would make every inventory and access-log write ~40 % slower without failing
anything else (docs/performance.md, "Storing the raw tables").
"""

from datetime import date

import duckdb
import pytest

from assets.raw.log_ledger import RECORDS_DDL
from bucketlens.formats import access_log_schema
from bucketlens.formats import inventory as inventory_fmt
from bucketlens.schema import table_ddl


def _compression_by_column(con, table: str) -> dict[str, set[str]]:
    rows = con.execute(
        "SELECT column_name, compression FROM pragma_storage_info(?) WHERE segment_type = 'VARCHAR'", [table]
    ).fetchall()
    out: dict[str, set[str]] = {}
    for column, method in rows:
        out.setdefault(column, set()).add(method)
    return out


def _fill_inventory(con, rows: int) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(inventory_fmt.TABLE_DDL)
    con.execute(
        """INSERT INTO raw.inventory_objects
           SELECT ?, 'photos', 'users/' || (i % 50) || '/' || md5(i::VARCHAR) || '.jpg', md5('v' || i),
                  true, false, i * 7, TIMESTAMP '2026-11-01', 'STANDARD', md5('e' || i), (i % 50)::VARCHAR,
                  false, NULL, 'photos/inventory/2026-11-02T01-00Z/manifest.json'
           FROM range(?) t(i)""",
        [date(2026, 11, 2), rows],
    )
    con.execute("CHECKPOINT")


def test_inventory_stores_unique_strings_with_zstd_and_repeating_ones_by_dictionary(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _fill_inventory(con, 200_000)
    methods = _compression_by_column(con, "raw.inventory_objects")
    assert inventory_fmt.COMPRESSION == {"key": "zstd", "version_id": "zstd", "e_tag": "zstd"}
    for column in inventory_fmt.COMPRESSION:
        assert methods[column] == {"ZSTD"}, (column, methods[column])
    assert methods["user_id"] == {"DICT_FSST"}
    assert methods["storage_class"] <= {"DICT_FSST", "Constant"}
    # the values come back exactly
    stored = con.execute(
        "SELECT count(DISTINCT key), sum(hash(e_tag)), sum(hash(version_id)) FROM raw.inventory_objects"
    ).fetchall()
    expected = con.execute(
        "SELECT count(*), sum(hash(md5('e' || i))), sum(hash(md5('v' || i))) FROM range(200000) t(i)"
    ).fetchall()
    assert stored == expected


def test_access_log_tables_store_ids_keys_and_uris_with_zstd_and_host_ids_as_they_are(tmp_path):
    assert access_log_schema.COMPRESSION == {
        "request_id": "zstd",
        "key": "zstd",
        "request_uri": "zstd",
        "host_id": "uncompressed",
    }
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute(access_log_schema.TABLE_DDL)
    con.execute(RECORDS_DDL)  # the ledger's records table has the same columns, in the same order
    assert (
        con.execute("DESCRIBE raw.access_log_records").fetchall()
        == con.execute("DESCRIBE raw.access_log_requests").fetchall()
    )
    for table in ("raw.access_log_requests", "raw.access_log_records"):
        con.execute(
            f"""INSERT INTO {table} (request_time, bucket, request_id, operation, key, request_uri, host_id,
                                     user_id, user_agent, usage_date)
                SELECT TIMESTAMP '2026-11-02 10:00:00' + i * INTERVAL 1 SECOND, 'photos', upper(md5('r' || i)),
                       'REST.GET.OBJECT', 'users/' || (i % 50) || '/' || md5(i::VARCHAR) || '.jpg',
                       'GET /photos/users/' || (i % 50) || '/' || md5(i::VARCHAR) || '.jpg HTTP/1.1',
                       md5('h' || i) || md5('o' || i) || '=', (i % 50)::VARCHAR, 'okhttp/4.12', DATE '2026-11-02'
                FROM range(200000) t(i)"""
        )
    con.execute("CHECKPOINT")
    for table in ("raw.access_log_requests", "raw.access_log_records"):
        methods = _compression_by_column(con, table)
        for column in ("request_id", "key", "request_uri"):
            assert methods[column] == {"ZSTD"}, (table, column, methods[column])
        assert methods["host_id"] == {"Uncompressed"}, (table, methods["host_id"])
        assert methods["user_id"] == {"DICT_FSST"}, (table, methods["user_id"])


def test_table_ddl_refuses_a_column_it_does_not_have():
    with pytest.raises(ValueError, match=r"raw.t: no such column\(s\) \['etag'\]"):
        table_ddl("raw.t", (("e_tag", "VARCHAR"),), {"etag": "zstd"})
