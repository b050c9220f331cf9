"""Embedding dimensions past pgvector's 2,000-dimension limit for indexing full-precision vectors.

text-embedding-3-large gives 3,072 dimensions; above 2,000 the HNSW index is built on ``halfvec``
(up to 4,000), so such a deployment migrates, ingests, answers and still searches through the
index, and re-embedding across the threshold rebuilds the index of the other kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.ingestion.reembed import stage, switch, target_settings
from shared.ingestion.service import ingest_bytes
from shared.retrieval import search
from shared.runtime import Services
from tests.support.ask import ask
from tests.support.seed import SAMPLE_DOCS


def _index(services: Services) -> str:
    with services.db.unscoped() as conn:
        row = conn.execute("SELECT pg_get_indexdef('chunks_embedding_idx'::regclass)").fetchone()
    assert row is not None
    return str(row[0])


def test_3072_dimensions_migrate_ingest_answer_and_reembed(make_services: Callable[..., Services],
                                                           tmp_path: Path) -> None:
    services = make_services(data_dir=tmp_path, embedding_dimensions=3072)
    results = [ingest_bytes(services, "acme", f"acme/{f.name}", f.read_bytes()) for f in sorted(SAMPLE_DOCS.iterdir())]
    assert {r.outcome for r in results} == {"ready"}
    assert "halfvec(3072)" in _index(services)

    status, body = ask("How long is the refund window?")
    assert status == 200, body
    assert body["grounded"] and body["citations"][0]["document"] == "billing-faq.md"

    query = np.asarray(services.model.embed(["refund window"]).vectors[0], dtype=np.float32)
    assert len(query) == 3072
    with services.db.tenant("acme") as conn:
        search.configure_session(conn, services.settings)
        for plan_type in ("seqscan", "bitmapscan", "sort"):  # a few sample chunks: prove the index can order them
            conn.execute("SELECT set_config(%s, 'off', true)", (f"enable_{plan_type}",))
        statement = search.vector_statement(len(query))
        params = {"vec": query, "tenant": "acme", "candidates": 20}
        plan = "\n".join(str(r[0]) for r in conn.execute(b"EXPLAIN " + statement.as_bytes(conn), params))
    assert "Index Scan using chunks_embedding_idx" in plan, plan

    target = target_settings(services.settings, services.settings.embedding_deployment, 1536)
    stage(services, target)
    assert switch(services, target) == sum(r.chunks for r in results)
    assert "(embedding vector_cosine_ops)" in _index(services)
