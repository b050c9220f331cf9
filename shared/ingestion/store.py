"""Chunk rows: reuse stored vectors, then replace a document's chunks in one transaction.

Rows go in with binary COPY (vectors as 4-byte floats, not ~32 KB of text each). PostgreSQL
refuses COPY into a table under row-level security, so rows are copied into a session temp
table and moved with one INSERT ... SELECT, which the tenant policy still checks. The delete,
the load and the ledger update commit together: readers see the old version or the new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import sql

from shared.db import Database
from shared.ingestion.chunking import Chunk

_COLUMNS = ("tenant_id, document_id, ordinal, content, content_sha256, heading_path, page, char_start, char_end,"
            " token_count, embedding_model, embedding")
_STAGING = ("CREATE TEMP TABLE IF NOT EXISTS chunk_staging (tenant_id text, document_id bigint, ordinal int,"
            " content text, content_sha256 text, heading_path text[], page int, char_start int, char_end int,"
            " token_count int, embedding_model text, embedding vector) ON COMMIT DELETE ROWS")
_COPY = sql.SQL("COPY chunk_staging ({}) FROM STDIN WITH (FORMAT BINARY)").format(sql.SQL(_COLUMNS))
_MOVE = sql.SQL("INSERT INTO chunks ({0}) SELECT {0} FROM chunk_staging").format(sql.SQL(_COLUMNS))
_TYPES = ["text", "int8", "int4", "text", "text", "text[]", "int4", "int4", "int4", "int4", "text", "vector"]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def reusable(db: Database, tenant: str, hashes: Sequence[str], model: str) -> dict[str, Any]:
    """Stored vectors for chunk texts this tenant already embedded with ``model``.

    Never a prepared statement: psycopg prepares a statement after a few executions and
    PostgreSQL may then keep a generic plan made while ``chunks`` was small. On a fresh
    deployment's first backfill that plan was a sequential scan, so every lookup grew with the
    table (10 ms per document after 1,300 chunks instead of 0.7 ms; bench/ingest_vs_langchain.py).
    """
    if not hashes:
        return {}
    with db.tenant(tenant) as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (content_sha256) content_sha256, embedding FROM chunks"
            " WHERE content_sha256 = ANY(%s) AND embedding_model = %s",
            (list(set(hashes)), model), prepare=False,
        ).fetchall()
    return {str(h): _as_array(v) for h, v in rows}


def _as_array(vector: Any) -> Any:
    """pgvector returns ``Vector`` objects (or numpy arrays, by version); COPY wants float32 arrays."""
    if hasattr(vector, "to_numpy"):
        vector = vector.to_numpy()
    return np.asarray(vector, dtype=np.float32)


def replace(
    db: Database,
    tenant: str,
    blob_path: str,
    *,
    chunks: Sequence[Chunk],
    hashes: Sequence[str],
    vectors: Sequence[Any],
    model: str,
    dimensions: int,
    etag: str | None,
    content_sha256: str,
) -> int:
    """Swap the document's chunks and mark it ``ready``; returns the document id."""
    with db.tenant(tenant) as conn:
        row = conn.execute("SELECT id FROM documents WHERE blob_path = %s FOR UPDATE", (blob_path,)).fetchone()
        if row is None:
            raise LookupError(f"no ledger row for {blob_path}")  # begin() always creates it first
        document_id = int(row[0])
        conn.execute("DELETE FROM chunks WHERE document_id = %s", (document_id,))
        conn.execute("SET LOCAL client_min_messages = warning")  # "temp table already exists" notices
        conn.execute(_STAGING)
        with conn.cursor() as cur, cur.copy(_COPY) as copy:
            copy.set_types(_TYPES)
            for chunk, digest, vector in zip(chunks, hashes, vectors, strict=True):
                copy.write_row((tenant, document_id, chunk.ordinal, chunk.text, digest, list(chunk.heading_path),
                                chunk.page, chunk.char_start, chunk.char_end, chunk.token_count, model,
                                np.asarray(vector, dtype=np.float32)))
        conn.execute(_MOVE)
        conn.execute(
            "UPDATE documents SET status = 'ready', reason = NULL, etag = %s, content_sha256 = %s, chunk_count = %s,"
            " token_count = %s, embedding_model = %s, embedding_dimensions = %s, updated_at = now() WHERE id = %s",
            (etag, content_sha256, len(chunks), sum(c.token_count for c in chunks), model, dimensions, document_id),
        )
    return document_id
