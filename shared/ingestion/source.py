"""Reading a blob safely: properties first, then a bounded, hash-while-streaming download.

Size, ETag and metadata come from one HEAD request, so an oversized blob is rejected
without downloading a byte. The body is read in bounded ranged GETs into a spooled
temporary file (memory up to INGEST_SPOOL_MEMORY_BYTES, disk beyond), hashed on the way,
each read only if the ETag still matches what was checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile
from typing import IO, Any, Protocol

from shared.errors import InputTooLargeError, TransientError

#: Largest single read from storage: memory per read stays bounded whatever the blob's size.
RANGE_BYTES = 4 * 1024 * 1024


class BlobLike(Protocol):
    """The part of ``azure.storage.blob.BlobClient`` ingestion uses."""

    container_name: str
    blob_name: str

    def get_blob_properties(self, **kwargs: Any) -> Any: ...

    def download_blob(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class BlobInfo:
    container: str
    name: str
    etag: str | None
    size: int
    content_type: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """Ledger key: container and blob name, e.g. ``documents/acme/guide.md``."""
        return f"{self.container}/{self.name}"


def properties(blob: BlobLike) -> BlobInfo | None:
    """The blob's properties, or None when it no longer exists (deleted after the event)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        return None
    settings = getattr(props, "content_settings", None)
    return BlobInfo(
        container=blob.container_name,
        name=blob.blob_name,
        etag=props.etag,
        size=int(props.size or 0),
        content_type=getattr(settings, "content_type", None),
        metadata=dict(props.metadata or {}),
    )


def download(blob: BlobLike, info: BlobInfo, *, max_bytes: int, spool_bytes: int,
             range_bytes: int = RANGE_BYTES) -> tuple[IO[bytes], str]:
    """The body as a rewound file object plus its sha256, read in ranged GETs of ``range_bytes``
    (the SDK's own first GET may fetch up to 32 MiB at once), each only if the ETag still
    matches what was checked."""
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError

    if info.size > max_bytes:
        raise InputTooLargeError(f"{info.size} bytes exceeds MAX_BLOB_BYTES ({max_bytes})")
    digest = hashlib.sha256()
    spool: IO[bytes] = SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115 - returned to the caller
    condition: dict[str, Any] = {}
    if info.etag:
        condition = {"etag": info.etag, "match_condition": MatchConditions.IfNotModified}
    try:
        for offset in range(0, info.size, range_bytes):
            length = min(range_bytes, info.size - offset)
            piece = blob.download_blob(offset=offset, length=length, max_concurrency=1, **condition).readall()
            digest.update(piece)
            spool.write(piece)
    except ResourceModifiedError as exc:
        spool.close()
        raise TransientError("the blob changed while it was read; the newer version will be ingested") from exc
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, digest.hexdigest()
