"""The warehouse connection's session settings."""

from resources.warehouse import Warehouse


def test_a_quote_in_the_temp_directory_is_a_path_not_sql(tmp_path):
    """Before: ``SET temp_directory = '{path}'`` failed with a parser error on ``o'brien``."""
    spill = tmp_path / "o'brien" / "duckdb_tmp"
    warehouse = Warehouse(
        database=str(tmp_path / "w.duckdb"), memory_limit="300MB", temp_directory=str(spill)
    )
    with warehouse.connect() as con:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN ('temp_directory', 'memory_limit')"
            ).fetchall()
        )
        schemas = {
            s for (s,) in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
        }
    assert settings["temp_directory"] == str(spill)
    assert settings["memory_limit"] == "286.1 MiB"  # 300 MB as DuckDB shows it
    assert {"raw", "usage", "cost", "anomaly", "alerts", "reports"} <= schemas
