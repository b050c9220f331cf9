"""LangChain's PGVector on the benchmark corpus, loaded into its own tables by COPY.

The store creates its schema (collection table, embedding table with a JSONB metadata GIN
index) through its own constructor; rows are copied in directly because ``add_embeddings``
would take far longer than the thing being measured. Queries go through the public
``similarity_search_by_vector`` with a ``{"tenant": {"$eq": ...}}`` metadata filter.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_postgres import PGVector
from pgvector.psycopg import register_vector
from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb

from bench.retrieval_data import Corpus, Vectors

COLLECTION = "bench"
INDEX = "langchain_bench_hnsw"


class _Unused(Embeddings):
    """Queries arrive as vectors; nothing is embedded."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError


def _sqlalchemy_url(conninfo: str) -> str:
    params = conninfo_to_dict(conninfo)
    return (f"postgresql+psycopg://{params.get('user', '')}@/{params.get('dbname', '')}"
            f"?host={params.get('host', '')}&port={params.get('port', 5432)}")


class LangChainStore:
    def __init__(self, admin_url: str, corpus: Corpus) -> None:
        self.admin_url = admin_url
        self.corpus = corpus
        self.store = PGVector(embeddings=_Unused(), connection=_sqlalchemy_url(admin_url),
                              embedding_length=corpus.dim, collection_name=COLLECTION, use_jsonb=True,
                              create_extension=False)

    def ensure_loaded(self, ids: dict[str, list[int]]) -> dict[str, float]:
        with Connection.connect(self.admin_url, autocommit=True) as conn:
            register_vector(conn)
            row = conn.execute("SELECT uuid FROM langchain_pg_collection WHERE name = %s", (COLLECTION,)).fetchone()
            assert row is not None
            collection = row[0]
            count = conn.execute("SELECT count(*) FROM langchain_pg_embedding WHERE collection_id = %s",
                                 (collection,)).fetchone()
            expected = sum(len(v) for v in ids.values())
            if count is not None and count[0] == expected:
                return {}
            conn.execute("DELETE FROM langchain_pg_embedding WHERE collection_id = %s", (collection,))
            conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
            started = time.perf_counter()
            for index in range(self.corpus.tenants):
                tenant = self.corpus.tenant(index)
                vectors, texts = self.corpus.tenant_data(index)
                with conn.cursor().copy("COPY langchain_pg_embedding (id, collection_id, embedding, document,"
                                        " cmetadata) FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.set_types(["varchar", "uuid", "vector", "varchar", "jsonb"])
                    for chunk_id, vector, text in zip(ids[tenant], vectors, texts, strict=True):
                        copy.write_row((str(chunk_id), collection, vector, text, Jsonb({"tenant": tenant})))
            conn.execute("VACUUM ANALYZE langchain_pg_embedding")
            return {"copy_s": time.perf_counter() - started}

    def set_index(self, present: bool) -> None:
        with Connection.connect(self.admin_url, autocommit=True) as conn:
            if not present:
                conn.execute(f"DROP INDEX IF EXISTS {INDEX}")
                return
            conn.execute("ALTER TABLE langchain_pg_embedding SET (parallel_workers = 2)")
            conn.execute("SET maintenance_work_mem = '2GB'")
            conn.execute("SET max_parallel_maintenance_workers = 2")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON langchain_pg_embedding"
                         " USING hnsw (embedding vector_cosine_ops)")
            conn.execute("ANALYZE langchain_pg_embedding")

    def search(self, tenant: str, vector: Vectors) -> list[int]:
        docs = self.store.similarity_search_by_vector(vector.tolist(), k=10, filter={"tenant": {"$eq": tenant}})
        return [int(str(d.id)) for d in docs]

    def timed(self, queries: list[tuple[str, Vectors, str]], truth: list[set[int]]) -> dict[str, Any]:
        for tenant, vector, _ in queries[:5]:
            self.search(tenant, vector)
        latencies, found = [], 0
        for i, (tenant, vector, _) in enumerate(queries):
            started = time.perf_counter()
            got = self.search(tenant, vector)
            latencies.append((time.perf_counter() - started) * 1000)
            found += len(set(got) & truth[i])
        latencies.sort()
        return {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
                "recall_at_10": found / (10 * len(queries))}


