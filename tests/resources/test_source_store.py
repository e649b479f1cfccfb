"""The same SourceStore code reads a local directory and an S3 prefix (moto)."""

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from resources.source_store import SourceStore


def _populate_local(root):
    (root / "inventory" / "b").mkdir(parents=True)
    (root / "inventory" / "b" / "manifest.json").write_bytes(b"{}")
    (root / "access-logs").mkdir()
    (root / "access-logs" / "2026-10-05-00-00-00-ABC").write_bytes(b"line\n")


def test_local_listing_reading_and_paths(tmp_path):
    _populate_local(tmp_path)
    store = SourceStore(url=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    assert [(o.key, o.size) for o in store.list("inventory/")] == [("inventory/b/manifest.json", 2)]
    assert store.read_bytes("access-logs/2026-10-05-00-00-00-ABC") == b"line\n"
    assert store.local_path("inventory/b/manifest.json") == str(tmp_path / "inventory/b/manifest.json")
    assert store.exists("inventory/b/manifest.json") and not store.exists("nope")
    assert store.list("missing/") == []


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="exports")
        yield client


def test_s3_prefix_listing_download_and_restatement(s3, tmp_path):
    for i in range(1005):  # more than one ListObjectsV2 page
        s3.put_object(Bucket="exports", Key=f"root/access-logs/2026-10-05-00-00-{i:04d}-X", Body=b"x")
    s3.put_object(Bucket="exports", Key="root/cur/a.parquet", Body=b"first")
    s3.put_object(Bucket="exports", Key="rootless/cur/a.parquet", Body=b"other prefix")
    store = SourceStore(url="s3://exports/root", cache_dir=str(tmp_path / "cache"))
    assert len(store.list("access-logs/")) == 1005
    assert [(o.key, o.size) for o in store.list("cur/")] == [("cur/a.parquet", 5)]
    path = store.local_path("cur/a.parquet", size=5)
    assert Path(path).read_bytes() == b"first"
    s3.put_object(Bucket="exports", Key="root/cur/a.parquet", Body=b"restated!")  # same key, new content
    assert Path(store.local_path("cur/a.parquet", size=9)).read_bytes() == b"restated!"
    assert store.read_bytes("cur/a.parquet") == b"restated!"
    assert store.exists("cur/a.parquet") and not store.exists("cur/b.parquet")
    assert store.describe("cur/a.parquet") == "s3://exports/root/cur/a.parquet"
