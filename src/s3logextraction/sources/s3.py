"""Log objects in an S3 bucket (the `[s3]` extra): listed live or from an S3 Inventory, read with boto3.

Identity is the key relative to the prefix, exactly as a copy of that prefix on disk (`aws s3
sync`) names it, so objects reached both ways are counted once; keys with a hidden component
and folder markers are passed over as a local folder passes over hidden files.  Credentials come
from boto3's standard chain and never appear in a message.

Every request is retried by botocore (standard mode, `AWS_MAX_ATTEMPTS` or 10 attempts); a
download that breaks mid-stream resumes where it stopped (a ranged GET pinned to the ETag).  When
the attempts run out the run ends with a one-line error: the batch in flight is not committed,
and its objects are extracted by the next run.
"""

from __future__ import annotations

import errno
import io
import itertools
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import InputError, MissingToolError, ServiceError
from ..text import escape_bytes, escape_text, unescape
from .base import CHUNK, Chunk, Listing, LogObject, Seal, Start, name_group
from .inventory import inventory_entries

INSTALL_HINT = "reading logs from S3 needs the [s3] extra: pip install 's3logextraction[s3]'"
LAST_CHARACTER = "\U0010ffff"  # sorts after every other: a StartAfter past a whole prefix
TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling", "503", "500"}
DENIED_CODES = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "403"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket[/prefix]`; the prefix is a folder (a trailing slash is implied)."""
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not url.startswith("s3://") or not bucket:
            raise InputError(f"{escape_text(url)}: not an S3 location (expected s3://BUCKET/PREFIX)")
        prefix = prefix.strip("/")
        return cls(bucket=bucket, prefix=f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return escape_text(f"s3://{self.bucket}/{self.prefix}")


def attempts() -> int:
    """Attempts per request: the AWS convention's `AWS_MAX_ATTEMPTS`, else 10."""
    value = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 10


@cache
def boto() -> tuple[Any, Any]:
    """boto3 and botocore's exceptions, loaded on first use (0.2 s: not for a local run)."""
    try:
        import boto3
        import botocore.exceptions
    except ImportError:  # the [s3] extra is not installed
        raise MissingToolError(INSTALL_HINT) from None
    return boto3, botocore.exceptions


def client_for(endpoint_url: str | None) -> Any:
    boto3, _ = boto()
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": attempts()},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=64,  # workers x read-ahead GETs at once
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def error_code(error: BaseException) -> str:
    if isinstance(error, boto()[1].ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def transient(error: BaseException) -> bool:
    """A failure worth another attempt: the connection, a timeout, a 5xx or throttling."""
    exceptions = boto()[1]
    if isinstance(error, exceptions.ClientError):
        return error_code(error) in TRANSIENT_CODES
    return isinstance(error, (exceptions.BotoCoreError, ConnectionError, TimeoutError))


def service_failure(where: S3Location, error: BaseException) -> Exception:
    """The one-line error for a failed listing or download (codes and types only: never a
    credential, never the server's text)."""
    code = error_code(error)
    if isinstance(error, boto()[1].NoCredentialsError):
        return InputError(f"{where}: no AWS credentials found (environment, ~/.aws or an instance role)")
    if code == "NoSuchBucket":
        return InputError(f"{where}: no such bucket")
    if code in DENIED_CODES:
        return InputError(f"{where}: access denied ({code}); check the AWS credentials and the bucket policy")
    why = code or type(error).__name__
    return ServiceError(
        f"{where}: S3 unavailable after {attempts()} attempts ({why}); committed work kept, rerun later"
    )


class S3Bucket:
    """The log objects under `s3://bucket/prefix`, listed live or from a local copy of an S3
    Inventory (`inventory`), which spares a listing of millions of objects."""

    settle_days = 1
    appear_whole = True  # an S3 object is listed only once it is stored whole
    read_ahead = 8  # concurrent GETs per batch, so latency does not set the pace

    def __init__(self, url: str, *, endpoint_url: str | None = None, inventory: Path | None = None) -> None:
        self.location = S3Location.parse(url)
        self.endpoint_url = endpoint_url
        self.inventory = inventory
        self.client = client_for(endpoint_url)

    def __getstate__(self) -> dict[str, Any]:
        """Sent to a Dask worker without its client (boto3 clients do not pickle)."""
        return {name: value for name, value in vars(self).items() if name != "client"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self.client = client_for(self.endpoint_url)

    def describe(self) -> str:
        return str(self.location)

    def list(self, *, sealed: Mapping[str, Seal] | None = None, starts: Sequence[Start] = ()) -> Listing:
        """The objects under the prefix in key order, page by page (S3 has no folder change time:
        nothing is sealed).  Under the prefix of each of `starts`, the listing starts after its
        `after` (`StartAfter`): a night lists the days that can still be new, not the history;
        names outside every start's prefix are listed whole.  An inventory lists everything."""
        if self.inventory is not None:
            return inventory_listing(self.inventory, location=self.location)
        return Listing(
            lambda listing: chunks_of(self.live_listing(starts), prefix=self.location.prefix, listing=listing),
            started_ns=time.time_ns(),
        )

    def survey(self, *, sealed: Mapping[str, Seal] | None = None) -> int | None:
        return None  # counting S3 objects costs the listing itself

    def live_listing(self, starts: Sequence[Start] = ()) -> Iterator[tuple[str, int, datetime]]:
        """(key, size, last modified) in key order: for each start, the keys before its prefix
        (down from the previous start's), then those under its prefix after its `after`."""
        base = self.location.prefix
        after: str | None = None
        for start in sorted(starts, key=lambda start: start.prefix):
            if start.prefix:
                yield from self.pages(start_after=after, stop_at=base + raw_key(start.prefix))
            yield from self.pages(prefix=base + raw_key(start.prefix), start_after=base + raw_key(start.after))
            after = base + raw_key(start.prefix) + LAST_CHARACTER
            if not start.prefix:
                return
        yield from self.pages(start_after=after)

    def pages(
        self, *, prefix: str | None = None, start_after: str | None = None, stop_at: str | None = None
    ) -> Iterator[tuple[str, int, datetime]]:
        """The keys under `prefix` (the source's by default) after `start_after`, up to (not
        including) `stop_at`: the pages stop being asked for at the first key past it."""
        request = {"Bucket": self.location.bucket, "Prefix": self.location.prefix if prefix is None else prefix}
        if start_after is not None:
            request["StartAfter"] = start_after
        pages = self.client.get_paginator("list_objects_v2").paginate(**request)
        try:
            for page in pages:
                for entry in page.get("Contents", []):
                    if stop_at is not None and entry["Key"] >= stop_at:
                        return
                    yield entry["Key"], int(entry["Size"]), entry["LastModified"]
        except (boto()[1].BotoCoreError, boto()[1].ClientError) as error:
            raise service_failure(self.location, error) from None

    def open(self, log_object: LogObject) -> BinaryIO:
        raw = ObjectReader(client=self.client, location=self.location, key=log_object.location)
        return io.BufferedReader(raw, buffer_size=CHUNK)

    def local_path(self, log_object: LogObject) -> str | None:
        return None  # always streamed to gawk: no copy of a log is written

    def unchanged(self, log_object: LogObject) -> bool:
        return True  # an S3 object is never rewritten in place: a new version is a new listing


def raw_key(name: str) -> str:
    """The key text of an escaped relative name (the bytes S3 holds, as boto3 takes them)."""
    return unescape(name).decode("utf-8", "surrogateescape")


def log_objects(entries: Iterable[tuple[str, int, datetime]], *, prefix: str, listing: Listing) -> Iterator[LogObject]:
    """(key, size, last modified) under `prefix` as log objects named as a local copy names its
    files: folder markers and keys with a hidden component are passed over."""
    for key, size, modified in entries:
        relative = key.removeprefix(prefix)
        if not key.startswith(prefix):
            continue
        if not relative or relative.endswith("/"):
            listing.skipped["folder marker"] += 1
        elif any(part.startswith(".") for part in relative.split("/")):
            listing.skipped["hidden"] += 1
        else:
            name = escape_bytes(relative.encode("utf-8", "surrogateescape"))
            mtime_ns = int(modified.timestamp() * 1_000_000) * 1000
            yield LogObject(name=name, size=size, mtime_ns=mtime_ns, location=key)


def chunks_of(entries: Iterable[tuple[str, int, datetime]], *, prefix: str, listing: Listing) -> Iterator[Chunk]:
    """The log objects of `entries` (in key order) in chunks of one name group (a day's folder,
    or a day of a flat prefix)."""
    for group, objects in itertools.groupby(
        log_objects(entries, prefix=prefix, listing=listing), key=lambda item: name_group(item.name)
    ):
        yield Chunk(folder=group, objects=sorted(objects, key=lambda log_object: log_object.name))


def inventory_listing(folder: Path, *, location: S3Location) -> Listing:
    """The log objects under `location` as the newest S3 Inventory in `folder` lists them (no
    request to S3: `status --inventory` uses it too)."""

    def sorted_chunks(listing: Listing) -> Iterator[Chunk]:
        entries = sorted(
            (entry.key, entry.size, entry.modified) for entry in inventory_entries(folder, bucket=location.bucket)
        )  # an inventory's files list keys in no order: the whole inventory is read first
        return chunks_of(entries, prefix=location.prefix, listing=listing)

    return Listing(sorted_chunks, started_ns=time.time_ns())


class ObjectReader(io.RawIOBase):
    """One object's bytes, resumed after a broken connection with a ranged GET of the same
    version (If-Match on its ETag), with backoff between attempts."""

    def __init__(self, *, client: Any, location: S3Location, key: str) -> None:
        self.client = client
        self.location = location
        self.key = key
        self.position = 0
        self.etag: str | None = None
        self.body: Any = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        failure: BaseException | None = None
        for attempt in range(attempts()):
            if failure is not None:
                time.sleep(min(0.1 * 2**attempt, 5.0))
            try:
                data = self.stream().read(len(buffer))
            except boto()[1].ClientError as error:
                if not transient(error):
                    raise self.permanent(error) from None
                failure = error
            except Exception as error:  # sorted below: transient or not
                if not transient(error):
                    raise
                failure = error
            else:
                buffer[: len(data)] = data
                self.position += len(data)
                return len(data)
            self.body = None
        assert failure is not None
        raise service_failure(self.location, failure)

    def stream(self) -> Any:
        if self.body is None:
            request: dict[str, Any] = {"Bucket": self.location.bucket, "Key": self.key}
            if self.etag is not None:  # a resume: the rest of the same version
                request.update(Range=f"bytes={self.position}-", IfMatch=self.etag)
            response = self.client.get_object(**request)
            self.etag = self.etag or response.get("ETag")
            self.body = response["Body"]
        return self.body

    def permanent(self, error: Exception) -> OSError:
        """An object that cannot be read as listed (gone, replaced, forbidden): it fails alone."""
        code = error_code(error)
        number = {"NoSuchKey": errno.ENOENT, "PreconditionFailed": errno.ESTALE}.get(code, errno.EACCES)
        return OSError(number, f"S3 {code or 'error'}")

    def close(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None
        super().close()
