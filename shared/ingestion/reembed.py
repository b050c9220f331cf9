"""Re-embedding with a new model or dimension without downtime.

``stage`` writes new vectors into ``chunk_embeddings_next`` beside the live ones (resumable:
only chunks without a staged vector are embedded; search keeps using the old vectors).
``switch`` then swaps them in with one transaction, refusing while any chunk lacks a staged
vector. A new dimension also retypes the column and rebuilds the HNSW index inside that
transaction, so searches wait for it rather than ever seeing mixed vectors. Afterwards set
EMBEDDING_DEPLOYMENT / EMBEDDING_DIMENSIONS to the new values.
"""

from __future__ import annotations

import numpy as np
from psycopg import sql

from shared.config import Settings
from shared.ingestion import ledger
from shared.ingestion.batching import BatchPolicy, EmbeddingBatcher
from shared.llm import build_model_client
from shared.runtime import Services

_PAGE = 2000
_STORAGE = {"p": "PLAIN", "e": "EXTERNAL", "m": "MAIN", "x": "EXTENDED"}


def target_settings(settings: Settings, model: str, dimensions: int) -> Settings:
    return settings.model_copy(update={"embedding_deployment": model, "embedding_dimensions": dimensions})


def stage(services: Services, target: Settings) -> dict[str, int]:
    """Embed every chunk not yet staged for the target model; returns vectors staged per tenant."""
    client = build_model_client(target)
    model = client.model_for("embeddings")
    s = services.settings
    batcher = EmbeddingBatcher(client, BatchPolicy(s.embedding_batch_max_inputs, s.embedding_batch_max_tokens,
                                                   s.embedding_concurrency))
    staged: dict[str, int] = {}
    for tenant in ledger.tenants(services.db):
        staged[tenant] = 0
        while True:
            with services.db.tenant(tenant) as conn:
                rows = conn.execute(
                    "SELECT c.id, c.content, c.token_count FROM chunks c LEFT JOIN chunk_embeddings_next n"
                    " ON n.chunk_id = c.id AND n.embedding_model = %s AND vector_dims(n.embedding) = %s"
                    " WHERE n.chunk_id IS NULL ORDER BY c.id LIMIT %s", (model, target.embedding_dimensions, _PAGE)
                ).fetchall()
            if not rows:
                break
            vectors, _, _ = batcher.embed([r[1] for r in rows], [r[2] for r in rows])
            with services.db.tenant(tenant) as conn, conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO chunk_embeddings_next (chunk_id, tenant_id, embedding_model, embedding)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (chunk_id) DO UPDATE SET"
                    " embedding_model = EXCLUDED.embedding_model, embedding = EXCLUDED.embedding",
                    [(r[0], tenant, model, np.asarray(v, dtype=np.float32))
                     for r, v in zip(rows, vectors, strict=True)])
            staged[tenant] += len(rows)
    return staged


def switch(services: Services, target: Settings) -> int:
    """Swap staged vectors in, all tenants in one transaction; returns chunks switched."""
    model = build_model_client(target).model_for("embeddings")
    dimensions = target.embedding_dimensions
    tenants = ledger.tenants(services.db)
    switched = 0
    with services.db.unscoped() as conn:
        row = conn.execute("SELECT atttypmod, attstorage FROM pg_attribute WHERE attrelid = 'chunks'::regclass"
                           " AND attname = 'embedding'").fetchone()
        retype = row is None or int(row[0]) != dimensions  # pgvector keeps the dimension in the typmod
        storage = _STORAGE.get(str(row[1]) if row else "", "EXTENDED")
        if retype:  # the column keeps its storage; the index is rebuilt for the new dimension
            conn.execute("DROP INDEX IF EXISTS chunks_embedding_idx")
            conn.execute("ALTER TABLE chunks ALTER COLUMN embedding TYPE vector")
        for tenant in tenants:
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
            missing = conn.execute(
                "SELECT count(*) FROM chunks c LEFT JOIN chunk_embeddings_next n ON n.chunk_id = c.id"
                " AND n.embedding_model = %s AND vector_dims(n.embedding) = %s WHERE n.chunk_id IS NULL",
                (model, dimensions)).fetchone()
            if missing and missing[0]:
                raise RuntimeError(f"tenant {tenant}: {missing[0]} chunks have no staged vector; run stage again")
            switched += conn.execute(
                "UPDATE chunks c SET embedding = n.embedding, embedding_model = n.embedding_model"
                " FROM chunk_embeddings_next n WHERE n.chunk_id = c.id AND n.embedding_model = %s"
                " AND vector_dims(n.embedding) = %s", (model, dimensions)).rowcount
            conn.execute("UPDATE documents SET embedding_model = %s, embedding_dimensions = %s"
                         " WHERE status = 'ready'", (model, dimensions))
            conn.execute("DELETE FROM chunk_embeddings_next")
        if retype:
            conn.execute(sql.SQL("ALTER TABLE chunks ALTER COLUMN embedding TYPE vector({})").format(
                sql.Literal(dimensions)))
            conn.execute(sql.SQL("ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE {}").format(sql.SQL(storage)))
            conn.execute("SELECT ragworker_build_embedding_index(%s)", (dimensions,))  # as migration 0006 does
    return switched
