"""Ingest or delete one blob: the unit of work behind the trigger, the CLI and the demo.

Callable without the Functions runtime: ``ingest_blob(services, blob_client)`` takes any
``azure.storage.blob.BlobClient``. Permanent problems (too large, unsupported, corrupt) are
recorded in the ledger and returned; only transient ones (database, storage, model quota)
raise, so the platform redelivers them. Chunks are replaced in a single transaction.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from shared.errors import InputTooLargeError, UnauthorizedError
from shared.identity import valid_tenant
from shared.ingestion import ledger
from shared.ingestion.extract import format_of
from shared.ingestion.pipeline import IngestResult, ingest_content, record
from shared.ingestion.source import BlobInfo, BlobLike, download, properties
from shared.runtime import Services
from shared.telemetry import set_attributes, span

__all__ = ["IngestResult", "Opened", "delete_blob", "ingest_blob", "ingest_bytes", "open_blob", "open_bytes",
           "tenant_for"]
log = logging.getLogger(__name__)


@dataclass
class Opened:
    """A blob whose delivery is new work: its ledger row is ``processing`` and its body is read."""

    tenant: str
    info: BlobInfo
    body: IO[bytes]
    digest: str
    previous: ledger.LedgerRow


def tenant_for(name: str, metadata: Mapping[str, str], default: str) -> str:
    """Blob metadata ``tenant`` first, else the first folder of the blob name, else the default."""
    explicit = next((v for k, v in metadata.items() if k.lower() == "tenant" and v), None)
    if explicit:
        return valid_tenant(explicit)
    folder, _, rest = name.partition("/")
    return valid_tenant(folder) if rest else default


def ingest_blob(services: Services, blob: BlobLike) -> IngestResult:
    """Ingest the blob behind ``blob`` (an ``azure.storage.blob.BlobClient``) exactly once."""
    with span("ingestion.ingest_blob") as current:
        result = _ingest_blob(services, blob)
        set_attributes(current, tenant=result.tenant, document=_label(blob.blob_name, result.tenant),
                       outcome=result.outcome, chunks=result.chunks,
                       tokens=result.tokens, cost_usd=result.cost_usd, model=result.model,
                       embedded=result.embedded, reused=result.reused, requests=result.requests)
        return result


def _label(name: str, tenant: str | None) -> str:
    """The document for telemetry, without the tenant folder (tenants appear only hashed)."""
    return name.removeprefix(f"{tenant}/") if tenant else name


def _ingest_blob(services: Services, blob: BlobLike) -> IngestResult:
    opened = open_blob(services, blob)
    if isinstance(opened, IngestResult):
        return opened
    with opened.body:
        return ingest_content(services, opened.tenant, opened.info, opened.body, opened.digest, opened.previous)


def open_blob(services: Services, blob: BlobLike) -> Opened | IngestResult:
    """Properties, tenant, ledger start, limits and the bounded download; or the result when
    the delivery ends there (unchanged, missing, rejected, too large, unsupported)."""
    info = properties(blob)
    if info is None:
        return IngestResult(blob_path=f"{blob.container_name}/{blob.blob_name}", tenant=None, outcome="missing",
                            reason="the blob no longer exists")
    try:
        tenant = tenant_for(info.name, info.metadata, services.settings.default_tenant)
    except UnauthorizedError as exc:
        log.error("blob %s names an invalid tenant; not ingested", info.path)
        return IngestResult(blob_path=info.path, tenant=None, outcome="rejected", reason=exc.reason)
    db, settings = services.db, services.settings
    begun = ledger.begin(db, tenant, info.path, etag=info.etag, size=info.size, content_type=info.content_type)
    if not begun.started:
        return IngestResult(blob_path=info.path, tenant=tenant, outcome="unchanged", reason=begun.current.status)
    if begun.moved_from is not None:  # metadata now names another tenant: the old copy must go
        ledger.forget(db, begun.moved_from, info.path)
    if info.size > settings.max_blob_bytes:
        reason = f"{info.size} bytes exceeds MAX_BLOB_BYTES ({settings.max_blob_bytes}); not downloaded"
        return record(services, tenant, info, "too_large", reason)
    if format_of(info.name) is None:
        return record(services, tenant, info, "unsupported", "no extractor for this file type; not downloaded")
    try:
        body, digest = download(blob, info, max_bytes=settings.max_blob_bytes,
                                spool_bytes=settings.ingest_spool_memory_bytes)
    except InputTooLargeError as exc:
        return record(services, tenant, info, "too_large", exc.reason)
    return Opened(tenant, info, body, digest, begun.previous or begun.current)


def ingest_bytes(services: Services, tenant: str, name: str, data: bytes, *, container: str = "documents",
                 etag: str | None = None) -> IngestResult:
    """The same pipeline for content already in memory (benchmarks, tools); no storage involved."""
    opened = open_bytes(services, tenant, name, data, container=container, etag=etag)
    if isinstance(opened, IngestResult):
        return opened
    return ingest_content(services, opened.tenant, opened.info, opened.body, opened.digest, opened.previous)


def open_bytes(services: Services, tenant: str, name: str, data: bytes, *, container: str = "documents",
               etag: str | None = None) -> Opened | IngestResult:
    """:func:`open_blob` for content already in memory: ledger start, no download."""
    info = BlobInfo(container=container, name=name, etag=etag, size=len(data), content_type=None)
    begun = ledger.begin(services.db, tenant, info.path, etag=etag, size=len(data), content_type=None)
    if not begun.started:
        return IngestResult(blob_path=info.path, tenant=tenant, outcome="unchanged", reason=begun.current.status)
    return Opened(tenant, info, io.BytesIO(data), hashlib.sha256(data).hexdigest(), begun.previous or begun.current)


def delete_blob(services: Services, blob_path: str) -> bool:
    """Remove the document at ``container/name`` and its chunks; False when nothing was there."""
    with span("ingestion.delete_blob") as current:
        _, _, name = blob_path.partition("/")
        tenant = ledger.owner_of(services.db, blob_path)
        if tenant is None:
            try:
                tenant = tenant_for(name, {}, services.settings.default_tenant)
            except UnauthorizedError:
                return False
        deleted = ledger.forget(services.db, tenant, blob_path)
        set_attributes(current, tenant=tenant, document=_label(name, tenant),
                       outcome="deleted" if deleted else "absent")
        return deleted
