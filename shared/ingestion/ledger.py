"""The documents ledger: one row per (tenant, blob path), the single source of ingestion state.

Idempotency lives here: a delivery whose ETag (or, after download, content hash) matches a
finished row does no work, and every state change is one short transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg import sql
from pydantic import BaseModel, ConfigDict

from shared.db import Database
from shared.db.database import Conn

Status = Literal["processing", "ready", "failed", "unsupported", "too_large"]
FINISHED: frozenset[str] = frozenset({"ready", "failed", "unsupported", "too_large"})
_NAMES = ("id, tenant_id, blob_path, etag, content_sha256, content_type, size_bytes, status, reason, attempts, "
            "chunk_count, token_count, embedding_model, embedding_dimensions, created_at, updated_at").split(", ")
_RETURNING = sql.SQL(", ").join(map(sql.Identifier, _NAMES))
_SELECT = sql.SQL("SELECT {} FROM documents ").format(_RETURNING)


class LedgerRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    tenant_id: str
    blob_path: str
    etag: str | None
    content_sha256: str | None
    content_type: str | None
    size_bytes: int | None
    status: Status
    reason: str | None
    attempts: int
    chunk_count: int
    token_count: int
    embedding_model: str | None
    embedding_dimensions: int | None
    created_at: datetime
    updated_at: datetime


def _row(values: tuple[Any, ...] | None) -> LedgerRow | None:
    if values is None:
        return None
    return LedgerRow.model_validate(dict(zip(_NAMES, values, strict=True)))


def find(conn: Conn, blob_path: str) -> LedgerRow | None:
    return _row(conn.execute(_SELECT + sql.SQL("WHERE blob_path = %s"), (blob_path,)).fetchone())


@dataclass(frozen=True)
class Begun:
    """The outcome of :func:`begin`: the row before this delivery and whether work starts."""

    previous: LedgerRow | None
    current: LedgerRow
    started: bool
    moved_from: str | None = None  # tenant that owned the path before (metadata changed)


def begin(db: Database, tenant: str, blob_path: str, *, etag: str | None, size: int | None,
          content_type: str | None) -> Begun:
    """In one transaction: skip a delivery whose ETag is already finished, else record the path's
    owner and mark the document ``processing`` with one more attempt.

    Runs with ``synchronous_commit = off``: losing this bookkeeping in a crash only means the
    redelivery starts it again, and ingestion saves an fsync per document.
    """
    with db.tenant(tenant) as conn:
        conn.execute("SET LOCAL synchronous_commit = off")
        previous = find(conn, blob_path)
        if previous is not None and etag is not None and previous.etag == etag and previous.status in FINISHED:
            return Begun(previous, previous, started=False)
        owner = conn.execute("SELECT tenant_id FROM ingestion_blobs WHERE blob_path = %s FOR UPDATE",
                             (blob_path,)).fetchone()
        conn.execute(
            "INSERT INTO ingestion_blobs (blob_path, tenant_id) VALUES (%s, %s) ON CONFLICT (blob_path)"
            " DO UPDATE SET tenant_id = EXCLUDED.tenant_id, updated_at = now()", (blob_path, tenant))
        current = _row(conn.execute(
            sql.SQL("INSERT INTO documents (tenant_id, blob_path, etag, size_bytes, content_type, status, attempts)"
                    " VALUES (%s, %s, %s, %s, %s, 'processing', 1)"
                    " ON CONFLICT (tenant_id, blob_path) DO UPDATE SET status = 'processing',"
                    " attempts = documents.attempts + 1, size_bytes = EXCLUDED.size_bytes,"
                    " content_type = EXCLUDED.content_type, updated_at = now() RETURNING ") + _RETURNING,
            (tenant, blob_path, etag, size, content_type),
        ).fetchone())
    if current is None:  # pragma: no cover - the upsert above always returns the row
        raise RuntimeError("ledger row vanished")
    moved = str(owner[0]) if owner is not None and owner[0] != tenant else None
    return Begun(previous, current, started=True, moved_from=moved)


def settle(db: Database, tenant: str, blob_path: str, *, status: Status, reason: str | None,
           etag: str | None, content_sha256: str | None = None) -> None:
    """Record a terminal outcome without chunks (failed, unsupported, too_large); old chunks go."""
    with db.tenant(tenant) as conn:
        conn.execute(
            "UPDATE documents SET status = %s, reason = %s, etag = %s, content_sha256 = %s, chunk_count = 0,"
            " token_count = 0, updated_at = now() WHERE blob_path = %s",
            (status, reason, etag, content_sha256, blob_path),
        )
        conn.execute("DELETE FROM chunks WHERE document_id IN (SELECT id FROM documents WHERE blob_path = %s)",
                     (blob_path,))


def touch(db: Database, tenant: str, blob_path: str, *, status: str, etag: str | None) -> None:
    """Same content under a new ETag: remember the ETag, restore the finished status, no work."""
    with db.tenant(tenant) as conn:
        conn.execute("UPDATE documents SET status = %s, etag = %s, updated_at = now() WHERE blob_path = %s",
                     (status, etag, blob_path))


def owner_of(db: Database, blob_path: str) -> str | None:
    with db.unscoped() as conn:
        row = conn.execute("SELECT tenant_id FROM ingestion_blobs WHERE blob_path = %s", (blob_path,)).fetchone()
    return str(row[0]) if row else None


def forget(db: Database, tenant: str, blob_path: str) -> bool:
    """Delete the document (its chunks cascade) and, if still this tenant's, the path's owner
    record, in one transaction; True if the document existed."""
    with db.tenant(tenant) as conn:
        deleted = conn.execute("DELETE FROM documents WHERE blob_path = %s", (blob_path,)).rowcount
        conn.execute("DELETE FROM ingestion_blobs WHERE blob_path = %s AND tenant_id = %s", (blob_path, tenant))
    return deleted > 0


def tenants(db: Database) -> list[str]:
    """Every tenant that has ingested a blob (for operator commands that span tenants)."""
    with db.unscoped() as conn:
        return [str(r[0]) for r in conn.execute(
            "SELECT DISTINCT tenant_id FROM ingestion_blobs ORDER BY 1").fetchall()]


def documents(db: Database, tenant: str) -> list[LedgerRow]:
    with db.tenant(tenant) as conn:
        rows = conn.execute(_SELECT + sql.SQL("ORDER BY blob_path")).fetchall()
    return [r for r in (_row(v) for v in rows) if r is not None]
