"""CloudWatch S3 metrics: from the GetMetricData API, or from JSON Lines files under the source root.

The embedded default (and ``bucketlens generate``) keeps one file per day, ``cloudwatch/<day>.jsonl``,
shaped like GetMetricData results, so the demo needs no AWS account and both paths stage identical rows.
"""

from __future__ import annotations

from datetime import date

import boto3
import dagster as dg

from bucketlens.settings import default


class CloudWatchSource(dg.ConfigurableResource):
    mode: str = default("cloudwatch_mode")  # "files" | "api"
    buckets: list[str] = []
    region: str = default("aws_region")

    def client(self):
        # AWS_ENDPOINT_URL (moto in tests) is honoured by boto3 itself.
        return boto3.client("cloudwatch", region_name=self.region)

    def jsonl_key(self, day: date) -> str:
        return f"cloudwatch/{day.isoformat()}.jsonl"
