"""Test data: documents and chunks written through tenant-scoped connections.

Embeddings come from the configured model client (offline hashing or the scripted server), so
retrieval sees the vectors it would see after ingestion. Bulk rows for planner tests use COPY.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shared.runtime import Services
from shared.tokens import count_text

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DOCS = ROOT / "samples" / "docs"


def section_chunks(text: str, target_tokens: int = 300) -> list[str]:
    """Split at markdown headings, then group paragraphs of long sections to about ``target_tokens``."""
    chunks: list[str] = []
    for section in (part.strip() for part in re.split(r"\n(?=#{1,4} )", text)):
        current: list[str] = []
        for para in (p.strip() for p in re.split(r"\n\s*\n", section)):
            if not para:
                continue
            if current and count_text("\n\n".join([*current, para]), "gpt-4o") > target_tokens:
                chunks.append("\n\n".join(current))
                current = []
            current.append(para)
        if current:
            chunks.append("\n\n".join(current))
    return chunks


def _document(services: Services, tenant: str, blob_path: str, count: int) -> int:
    with services.db.tenant(tenant) as conn:
        row = conn.execute(
            "INSERT INTO documents (tenant_id, blob_path, status, chunk_count, embedding_model,"
            " embedding_dimensions) VALUES (%s, %s, 'ready', %s, %s, %s) RETURNING id",
            (tenant, blob_path, count, services.model.model_for("embeddings"),
             services.settings.embedding_dimensions)).fetchone()
    assert row is not None
    return int(row[0])


def seed_document(services: Services, tenant: str, blob_path: str, chunks: Sequence[str],
                  pages: Sequence[int | None] | None = None) -> list[int]:
    """One ready document with ``chunks``; returns the chunk ids in order."""
    vectors = services.model.embed(list(chunks)).vectors
    doc_id = _document(services, tenant, blob_path, len(chunks))
    ids: list[int] = []
    position = 0
    with services.db.tenant(tenant) as conn:
        for ordinal, (text, vector) in enumerate(zip(chunks, vectors, strict=True)):
            row = conn.execute(
                "INSERT INTO chunks (tenant_id, document_id, ordinal, content, content_sha256, page, char_start,"
                " char_end, token_count, embedding_model, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s) RETURNING id",
                (tenant, doc_id, ordinal, text, hashlib.sha256(text.encode()).hexdigest(),
                 pages[ordinal] if pages else None, position, position + len(text), count_text(text, "gpt-4o"),
                 services.model.model_for("embeddings"), np.asarray(vector, dtype=np.float32))).fetchone()
            assert row is not None
            ids.append(int(row[0]))
            position += len(text)
    return ids


def seed_samples(services: Services, tenant: str, names: Sequence[str] | None = None) -> dict[str, list[int]]:
    """The sample product documentation, chunked by section, under ``documents/<tenant>/``."""
    files = sorted(SAMPLE_DOCS.iterdir())
    return {f.name: seed_document(services, tenant, f"documents/{tenant}/{f.name}",
                                  section_chunks(f.read_text("utf-8")))
            for f in files if names is None or f.name in names}


def seed_vectors(services: Services, tenant: str, vectors: npt.NDArray[np.float32], label: str = "bulk") -> None:
    """Many chunks at once with given vectors (executemany; COPY is refused under row-level security)."""
    doc_id = _document(services, tenant, f"documents/{tenant}/{label}.txt", len(vectors))
    rows = [(tenant, doc_id, i, f"{label} row {i}", hashlib.sha256(f"{label} row {i}".encode()).hexdigest(),
             0, 10, 3, "synthetic", vector) for i, vector in enumerate(vectors)]
    with services.db.tenant(tenant) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO chunks (tenant_id, document_id, ordinal, content, content_sha256, char_start, char_end,"
            " token_count, embedding_model, embedding) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


def centres(rng: np.random.Generator, count: int, dim: int) -> npt.NDArray[np.float32]:
    """Cluster centres shared by every tenant, so a query's neighbours span tenants."""
    return rng.standard_normal((count, dim)).astype(np.float32)


def around(rng: np.random.Generator, points: npt.NDArray[np.float32], rows: int,
           spread: float = 0.35) -> npt.NDArray[np.float32]:
    """Unit vectors near randomly chosen ``points``: neighbour structure, unlike uniform noise."""
    picks = rng.integers(0, len(points), rows)
    dim = points.shape[1]
    data = points[picks] + spread * rng.standard_normal((rows, dim)).astype(np.float32)
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


_COPY_CHUNKS = (
    "COPY chunks (tenant_id, document_id, ordinal, content, content_sha256, char_start, char_end,"
    " token_count, embedding_model, embedding) FROM STDIN WITH (FORMAT BINARY)"
)
_COPY_TYPES = ["text", "int8", "int4", "text", "text", "int4", "int4", "int4", "text", "vector"]


def copy_document(conn: Any, tenant: str, blob_path: str, chunks: Iterable[tuple[object, ...]]) -> int:
    """Insert a ready document and COPY BINARY its chunks; returns the document id.

    ``chunks`` rows are (ordinal, content, content_sha256, char_start, char_end, token_count,
    embedding_model, embedding). COPY is refused under RLS, so ``conn`` is a superuser's.
    """
    row = conn.execute("INSERT INTO documents (tenant_id, blob_path, status) VALUES (%s, %s, 'ready')"
                       " RETURNING id", (tenant, blob_path)).fetchone()
    assert row is not None
    document_id = int(row[0])
    with conn.cursor().copy(_COPY_CHUNKS) as copy:
        copy.set_types(_COPY_TYPES)
        for values in chunks:
            copy.write_row((tenant, document_id, *values))
    return document_id


def bulk_load(admin_url: str, vectors_by_tenant: dict[str, npt.NDArray[np.float32]]) -> dict[str, list[int]]:
    """COPY BINARY as superuser (COPY is refused under RLS); returns chunk ids.

    The HNSW index is dropped for the load and rebuilt from its own definition afterwards: one
    bulk build is several times faster than maintaining the graph row by row.
    """
    from pgvector.psycopg import register_vector
    from psycopg import connect

    ids: dict[str, list[int]] = {}
    with connect(admin_url, autocommit=True) as conn:
        register_vector(conn)
        found = conn.execute("SELECT pg_get_indexdef('chunks_embedding_idx'::regclass)").fetchone()
        assert found is not None
        conn.execute("DROP INDEX chunks_embedding_idx")
        for tenant, vectors in vectors_by_tenant.items():
            rows = ((i, f"row {i}", "-", 0, 1, 1, "synthetic", vector) for i, vector in enumerate(vectors))
            document_id = copy_document(conn, tenant, f"documents/{tenant}/bulk.txt", rows)
            ids[tenant] = [int(r[0]) for r in conn.execute(
                "SELECT id FROM chunks WHERE document_id = %s ORDER BY ordinal", (document_id,)).fetchall()]
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(found[0])
        conn.execute("ANALYZE chunks")
        conn.execute("ANALYZE documents")
    return ids
