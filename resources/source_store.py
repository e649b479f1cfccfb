"""The source root: where AWS (or the generator) puts inventory, access logs, CloudWatch and CUR files.

One resource serves both a local directory and ``s3://bucket/prefix`` so that every asset has a single
code path; S3 objects are read through boto3 (never DuckDB's httpfs, which cannot be installed
offline) and cached on local disk, because DuckDB parses local files fastest.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import boto3
import dagster as dg
from pydantic import PrivateAttr


@dataclass(frozen=True)
class SourceObject:
    key: str  # relative to the source root, '/'-separated
    size: int


class SourceStore(dg.ConfigurableResource):
    """A local directory or an S3 prefix holding the raw exports, in AWS's own layout."""

    url: str
    cache_dir: str
    _s3_client: object = PrivateAttr(default=None)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @cached_property
    def _bucket_and_prefix(self) -> tuple[str, str]:
        bucket, _, prefix = self.url[len("s3://") :].partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, prefix

    def _client(self):
        if self._s3_client is None:
            # boto3 honours AWS_ENDPOINT_URL itself, which is how tests and the demo reach moto.
            self._s3_client = boto3.client("s3")
        return self._s3_client

    def list(self, prefix: str) -> list[SourceObject]:
        """All objects whose key starts with ``prefix``, sorted by key."""
        objects = list(self._iter_s3(prefix) if self.is_s3 else self._iter_local(prefix))
        return sorted(objects, key=lambda o: o.key)

    def _iter_local(self, prefix: str) -> Iterator[SourceObject]:
        root = Path(self.url)
        folder = root / prefix if prefix.endswith("/") else (root / prefix).parent
        if not folder.exists():
            return
        for dirpath, _, filenames in os.walk(folder):
            for name in filenames:
                path = Path(dirpath) / name
                key = path.relative_to(root).as_posix()
                if key.startswith(prefix):
                    yield SourceObject(key, path.stat().st_size)

    def _iter_s3(self, prefix: str) -> Iterator[SourceObject]:
        bucket, root = self._bucket_and_prefix
        paginator = self._client().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=root + prefix):
            for item in page.get("Contents", []):
                yield SourceObject(item["Key"][len(root) :], int(item["Size"]))

    def read_bytes(self, key: str) -> bytes:
        """Small files (manifests, checksums): read whole."""
        if not self.is_s3:
            return (Path(self.url) / key).read_bytes()
        bucket, root = self._bucket_and_prefix
        return self._client().get_object(Bucket=bucket, Key=root + key)["Body"].read()

    def exists(self, key: str) -> bool:
        if not self.is_s3:
            return (Path(self.url) / key).is_file()
        bucket, root = self._bucket_and_prefix
        try:
            self._client().head_object(Bucket=bucket, Key=root + key)
        except self._client().exceptions.ClientError:
            return False
        return True

    def local_path(self, key: str, size: int | None = None) -> str:
        """A local file with the object's bytes: the file itself, or a cached download from S3.

        The cache entry is keyed by the object's URL and reused only when its size matches, so a
        restated object (same key, new content and size) is fetched again. Checksums are verified by
        the caller against the manifest, not here.
        """
        if not self.is_s3:
            return str(Path(self.url) / key)
        bucket, root = self._bucket_and_prefix
        target = self._cache_path(key)
        if target.exists() and (size is None or target.stat().st_size == size):
            return str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        self._client().download_file(bucket, root + key, str(partial))
        os.replace(partial, target)
        return str(target)

    def forget(self, key: str) -> None:
        """Drop a cached download (after a checksum mismatch, so a retry fetches it again)."""
        if self.is_s3:
            with suppress(FileNotFoundError):
                os.remove(self._cache_path(key))

    def _cache_path(self, key: str) -> Path:
        bucket, root = self._bucket_and_prefix
        digest = hashlib.sha1(f"{bucket}/{root}{key}".encode()).hexdigest()[:16]
        return Path(self.cache_dir) / "s3" / digest / Path(key).name

    def describe(self, key: str) -> str:
        """How to name a file in an error message: its full URL or path."""
        return f"{self.url.rstrip('/')}/{key}"
