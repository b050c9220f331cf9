"""Operator work over many documents: backfill a container, status, reconcile deletes.

Each runs the same per-blob unit of work as the trigger, so a backfill is exactly what the
events would have done, and re-running any of them is harmless.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from shared.errors import TransientError
from shared.ingestion import ledger
from shared.ingestion.pipeline import IngestResult, Prepared, embed_group, prepare
from shared.ingestion.service import open_blob
from shared.runtime import Services

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

log = logging.getLogger(__name__)


class BackfillReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcomes: dict[str, int]
    chunks: int
    tokens: int
    embedded: int
    reused: int
    requests: int
    errors: list[str]


def backfill(services: Services, container: ContainerClient, *, prefix: str | None = None) -> BackfillReport:
    """Ingest every blob (under ``prefix``); transient failures are listed, the rest continues.

    New chunks of consecutive documents are embedded together: documents are prepared until
    their pending tokens fill every concurrent request, then embedded in packed requests and
    committed one transaction per document, exactly as the trigger would commit them.
    """
    s = services.settings
    flush_at = s.embedding_batch_max_tokens * s.embedding_concurrency
    results: list[IngestResult] = []
    errors: list[str] = []
    group: list[Prepared] = []
    requests = 0

    def flush(final: bool) -> None:
        nonlocal requests
        try:
            done, sent = embed_group(services, group, final=final)
        except TransientError as exc:
            errors.extend(f"{p.info.name}: {exc.reason}" for p in group)
            group.clear()
            return
        results.extend(done)
        requests += sent

    for item in container.list_blobs(name_starts_with=prefix):
        try:
            opened = open_blob(services, container.get_blob_client(item.name))
            if isinstance(opened, IngestResult):
                results.append(opened)
                continue
            with opened.body:
                prepared = prepare(services, opened.tenant, opened.info, opened.body, opened.digest, opened.previous)
        except TransientError as exc:
            errors.append(f"{item.name}: {exc.reason}")
            continue
        if isinstance(prepared, IngestResult):
            results.append(prepared)
            continue
        group.append(prepared)
        if sum(c.token_count for p in group for c in p.todo.values()) >= flush_at:
            flush(final=False)
    if group:
        flush(final=True)
    return BackfillReport(outcomes=dict(Counter(r.outcome for r in results)), chunks=sum(r.chunks for r in results),
                          tokens=sum(r.tokens for r in results),
                          embedded=sum(r.embedded for r in results), reused=sum(r.reused for r in results),
                          requests=requests, errors=errors)


def status(services: Services, tenant: str | None = None) -> dict[str, Any]:
    """Per tenant: documents by status, chunks, tokens, and every unfinished or failed document."""
    report: dict[str, Any] = {}
    for name in [tenant] if tenant else ledger.tenants(services.db):
        rows = ledger.documents(services.db, name)
        report[name] = {
            "documents": dict(Counter(r.status for r in rows)),
            "chunks": sum(r.chunk_count for r in rows),
            "tokens": sum(r.token_count for r in rows),
            "models": sorted({f"{r.embedding_model}/{r.embedding_dimensions}" for r in rows if r.embedding_model}),
            "attention": [{"blob_path": r.blob_path, "status": r.status, "reason": r.reason, "attempts": r.attempts}
                          for r in rows if r.status not in ("ready", "unsupported")],
        }
    return report


def reconcile(services: Services, container: ContainerClient, *, dry_run: bool = False) -> list[str]:
    """Remove documents whose blob no longer exists (a missed or dropped BlobDeleted event)."""
    prefix = f"{container.container_name}/"
    existing = {prefix + item for item in container.list_blob_names()}
    with services.db.unscoped() as conn:
        known = conn.execute("SELECT blob_path, tenant_id FROM ingestion_blobs WHERE blob_path LIKE %s",
                             (prefix.replace("%", r"\%").replace("_", r"\_") + "%",)).fetchall()
    gone = [(str(path), str(tenant)) for path, tenant in known if path not in existing]
    if not dry_run:
        for path, tenant in gone:
            ledger.forget(services.db, tenant, path)
            log.info("reconcile removed %s (tenant %s)", path, tenant)
    return [path for path, _ in gone]
