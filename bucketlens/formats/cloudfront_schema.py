"""The warehouse shape of CloudFront standard logs: ``raw.cdn_requests``, one row per viewer request.

Why its own module: the parsers of both log shapes (legacy W3C files and standard logging v2) write
these columns, and the per-user CDN layer, the cost attribution and the alert rules read them; each
imports this one definition instead of each other.

Column names follow the CloudFront field names with the dashes made SQL-friendly; ``edge_region`` is
the price-class region prefix CloudFront uses in its cost-export usage types (``US``, ``CA``, ``EU``,
``JP``, ``AP``, ``AU``, ``IN``, ``SA``, ``ZA``, ``ME``), derived from the edge location's airport code,
so per-user bytes and requests can be matched to the bill's line items of the same region.
"""

from __future__ import annotations

COLUMNS: tuple[tuple[str, str], ...] = (
    ("usage_date", "DATE NOT NULL"),  # UTC day of the request (date + time fields)
    ("request_time", "TIMESTAMP NOT NULL"),
    ("distribution_id", "VARCHAR"),  # from the file name (legacy) or the v2 partition/field
    ("edge_location", "VARCHAR"),  # x-edge-location, e.g. SFO53-P7
    ("edge_region", "VARCHAR"),  # usage-type region prefix of the edge (see module docstring)
    ("client_ip", "VARCHAR"),  # c-ip
    ("method", "VARCHAR"),  # cs-method
    ("host", "VARCHAR"),  # x-host-header (the viewer's Host), else cs(Host)
    ("uri_stem", "VARCHAR"),  # cs-uri-stem, URL-decoded once
    ("query", "VARCHAR"),  # cs-uri-query ('-' → NULL); never used for ownership
    ("status", "INTEGER"),  # sc-status (NULL when '000' / the viewer went away)
    ("referer", "VARCHAR"),  # cs(Referer), URL-decoded once, '-' → NULL
    ("user_agent", "VARCHAR"),  # cs(User-Agent), URL-decoded once
    ("protocol", "VARCHAR"),  # cs-protocol: http, https, ws, wss
    ("bytes_sent", "BIGINT"),  # sc-bytes: bytes served to the viewer, headers included
    ("time_taken", "DOUBLE"),  # seconds
    ("time_to_first_byte", "DOUBLE"),  # seconds
    (
        "edge_result_type",
        "VARCHAR",
    ),  # Hit, RefreshHit, Miss, LimitExceeded, CapacityExceeded, Error, Redirect
    ("edge_response_result_type", "VARCHAR"),
    ("edge_detailed_result_type", "VARCHAR"),
    ("content_type", "VARCHAR"),
    ("user_id", "VARCHAR NOT NULL"),  # from uri_stem through the configured key pattern; '_shared' if none
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
)

COLUMN_DEFS = ",\n    ".join(f"{name} {sql_type}" for name, sql_type in COLUMNS)
TABLE_DDL = f"CREATE TABLE IF NOT EXISTS raw.cdn_requests (\n    {COLUMN_DEFS}\n)"
