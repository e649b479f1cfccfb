"""The raw layer's asset names as the design lists them (plus the access-log ledger and the CloudFront logs), written out so a
test fails when an asset disappears or is renamed."""

RAW = {
    "inventory_objects",
    "access_log_objects",
    "access_log_requests",
    "cdn_requests",
    "cloudwatch_metrics",
    "cost_line_items",
    "users",
}
