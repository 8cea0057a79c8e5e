"""Where photo files live, chosen by URL: ``file://<folder>`` (embedded default) or
``s3://bucket/prefix`` (any S3-compatible server; boto3 from the ``s3`` extra).

Keys are relative paths made by OneMap itself (never from user input), so a key
cannot point outside the folder; ``path`` checks it anyway. Both backends write an
object whole or not at all, raise NotFound for a missing key, and turn a storage
that cannot be used (endpoint down, bucket missing, access denied) into
StorageUnavailable, and a full disk into StorageFull, so a caller never sees an
OSError or a botocore error.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from geo.io.files import write_atomically
from geo.messages import msg
from geo.model import InvalidInput, NotFound, StorageFull, StorageUnavailable

S3_EXTRA = "pip install 'onemap[s3]'"


@contextmanager
def _local_errors(root: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        kind = StorageFull if exc.errno in (errno.ENOSPC, errno.EDQUOT) else StorageUnavailable
        raise kind(f"photo folder {root} (ONEMAP_MEDIA_URL) cannot be used: {exc.strerror or exc}") from exc


def _missing(key: str):
    return msg("photo_file_missing", "photo file {key} is missing", key=repr(key))


class LocalBlobs:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.url = f"file://{self.root}"

    def path(self, key: str) -> Path:
        with _local_errors(self.root):
            path = (self.root / key).resolve()
            if self.root not in path.parents:
                raise NotFound(msg("no_file", "no file {key}", key=repr(key)))
            if not path.is_file():
                raise NotFound(_missing(key))
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write a file whole and durably: temporary name, fsync, rename, fsync the folder.

        After ``put`` returns, a power cut cannot lose the file, so a database row
        committed afterwards never points to a missing photo.
        """
        target = self.root / key
        with _local_errors(self.root):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")  # keys are unique: one fixed name each
            with write_atomically(target, durable=True, temporary=partial) as f:
                f.write(data)

    def read(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def open(self, key: str) -> BinaryIO:
        """The file for reading; the caller closes it."""
        path = self.path(key)
        with _local_errors(self.root):
            try:
                return path.open("rb")
            except FileNotFoundError:  # deleted since ``path`` looked
                raise NotFound(_missing(key)) from None

    def exists(self, key: str) -> bool:
        with _local_errors(self.root):
            return (self.root / key).is_file()

    def delete(self, key: str) -> None:
        with _local_errors(self.root):
            (self.root / key).unlink(missing_ok=True)

    def keys(self, prefix: str, *, before: datetime | None = None) -> list[str]:
        """Every file below ``prefix`` (relative keys), temporary ones included; with ``before``, only
        those last written before that time."""
        base = self.root / prefix
        limit = None if before is None else before.timestamp()
        with _local_errors(self.root):
            return sorted(str(p.relative_to(self.root)) for p in base.rglob("*")
                          if p.is_file() and (limit is None or p.stat().st_mtime < limit))


class S3Blobs:
    """Photo objects in an S3-compatible bucket, under ``prefix``.

    One boto3 client per instance (clients are thread-safe; the request threads and the
    photo thread share it). Nothing touches the network until the first call.
    """

    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None, client=None,
                 page_size: int | None = None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.page_size = page_size  # keys listed per request; None: the server's own (1,000 on S3)
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.endpoint = endpoint
        self._client = client or _s3_client(endpoint)
        self._bucket_seen = False
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        self._errors, self._no_credentials = (BotoCoreError, ClientError), NoCredentialsError

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unavailable(self, exc: Exception) -> StorageUnavailable:
        where = self.url + (f" at {self.endpoint}" if self.endpoint else "")
        reason = str(exc)
        if isinstance(exc, self._no_credentials):
            reason = "no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        return StorageUnavailable(f"photo storage {where} (ONEMAP_MEDIA_URL, ONEMAP_S3_ENDPOINT) "
                                  f"cannot be used: {reason}")

    @contextmanager
    def _calling(self, key: str | None = None) -> Iterator[None]:
        """botocore errors → NotFound for a missing object (if ``key`` is given), else StorageUnavailable."""
        try:
            yield
        except self._errors as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if key is not None and code in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(_missing(key)) from None
            raise self._unavailable(exc) from exc

    def put(self, key: str, data: bytes) -> None:
        """One PutObject: the object appears whole or not at all; the MD5 lets the server refuse a
        body damaged on the way (understood by every S3-compatible server, unlike the newer CRC
        checksums boto3 sends by default)."""
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        with self._calling():
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentMD5=md5)
        self._bucket_seen = True

    def read(self, key: str) -> bytes:
        with self.open(key) as body, self._calling(key):
            return body.read()

    def open(self, key: str) -> BinaryIO:
        """A stream of the object's bytes, for sending it on without holding it in memory; the caller
        closes it."""
        with self._calling(key):
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def exists(self, key: str) -> bool:
        try:
            with self._calling(key):
                self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except NotFound:
            # HEAD answers a bare 404 for a missing bucket too: make sure it is the object that is
            # missing, or a misspelt bucket would look like photos not derived yet.
            if not self._bucket_seen:
                with self._calling():
                    self._client.head_bucket(Bucket=self.bucket)
                self._bucket_seen = True
            return False
        self._bucket_seen = True
        return True

    def delete(self, key: str) -> None:
        """Idempotent: S3 answers a delete of a missing object with success."""
        with self._calling():
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str, *, before: datetime | None = None) -> list[str]:
        """Every object below the folder ``prefix`` (relative keys), following the listing page by page;
        with ``before``, only those last written before that time."""
        folder = prefix.strip("/")
        start = self._key(f"{folder}/" if folder else "")
        cut = len(self.prefix) + 1 if self.prefix else 0
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=start,
            PaginationConfig={"PageSize": self.page_size} if self.page_size else {})
        with self._calling():
            return sorted(item["Key"][cut:] for page in pages for item in page.get("Contents", ())
                          if before is None or item["LastModified"] < before)


def _boto3():
    """boto3, imported only when S3 storage is chosen (the way geopandas imports optional drivers)."""
    try:
        import boto3
    except ImportError:
        raise InvalidInput(f"ONEMAP_MEDIA_URL is an s3:// URL but boto3 is not installed: {S3_EXTRA}",
                           field="ONEMAP_MEDIA_URL") from None
    return boto3


def _s3_client(endpoint: str | None):
    boto3 = _boto3()
    from botocore.config import Config

    # Standard retries: 3 attempts with a short backoff (the legacy mode's 5 would hold a phone's
    # upload for seconds before the 503). AWS_MAX_ATTEMPTS still applies.
    options = {"retries": {"mode": "standard"}, "connect_timeout": 5, "read_timeout": 30,
               # boto3's default CRC checksums are refused by several S3-compatible servers; put
               # sends an MD5 instead.
               "request_checksum_calculation": "when_required",
               "response_checksum_validation": "when_required"}
    # A session of its own: boto3's default session is not thread-safe to create clients from.
    return boto3.session.Session().client("s3", endpoint_url=endpoint or None, config=Config(**options))


_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")


def open_blobs(url: str, *, endpoint: str | None = None) -> LocalBlobs | S3Blobs:
    """The photo storage named by ``url`` (ONEMAP_MEDIA_URL); ``endpoint`` is ONEMAP_S3_ENDPOINT."""
    if url.startswith("file://"):
        folder = url.removeprefix("file://")
        if not folder:
            raise InvalidInput("ONEMAP_MEDIA_URL=file:// names no folder (use file:///path/to/media)",
                               field="ONEMAP_MEDIA_URL")
        return LocalBlobs(Path(folder))
    if url.startswith("s3://"):
        parts = urlsplit(url)
        if not _BUCKET.fullmatch(parts.netloc):
            raise InvalidInput(f"ONEMAP_MEDIA_URL={url!r}: give s3://bucket/prefix with a bucket name",
                               field="ONEMAP_MEDIA_URL")
        if endpoint:
            given = urlsplit(endpoint)
            if given.scheme not in ("http", "https") or not given.netloc:
                raise InvalidInput(f"ONEMAP_S3_ENDPOINT={endpoint!r}: give http(s)://host[:port]",
                                   field="ONEMAP_S3_ENDPOINT")
        return S3Blobs(parts.netloc, parts.path, endpoint=endpoint)
    raise InvalidInput(f"ONEMAP_MEDIA_URL={url!r}: use file://<folder> or s3://bucket/prefix",
                       field="ONEMAP_MEDIA_URL")
