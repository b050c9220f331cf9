"""Operator work over many documents: backfill a container, status, reconcile deletes.

Each runs the same per-blob unit of work as the trigger, so a backfill is exactly what the
events would have done, and re-running any of them is harmless.
"""

from __future__ import annotations

import logging
from collections import Counter
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from shared.ingestion import batch, ledger
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

    New chunks of consecutive documents are embedded together in packed requests, and each
    document commits in its own transaction exactly as the trigger would commit it, on
    ``INGEST_WRITERS`` threads while the next documents are prepared (see ``batch``).
    """
    names = (item.name for item in container.list_blobs(name_starts_with=prefix))
    done = batch.run(services, ((name, partial(open_blob, services, container.get_blob_client(name)))
                                for name in names))
    results = done.results
    return BackfillReport(outcomes=dict(Counter(r.outcome for r in results)), chunks=sum(r.chunks for r in results),
                          tokens=sum(r.tokens for r in results),
                          embedded=sum(r.embedded for r in results), reused=sum(r.reused for r in results),
                          requests=done.requests, errors=done.errors)


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
