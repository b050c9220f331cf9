"""Synthetic corpus for the retrieval benchmark: clustered vectors plus matching words.

Vectors have two levels of structure (topics, and subtopics within them) shared by every
tenant, so a query's global neighbours span tenants and a tenant filter really removes most of
them. Uniform random vectors would have no neighbours to find and make recall meaningless.
Each chunk's text uses its topic's and subtopic's words, so the full-text leg has real matches.
Everything is derived from a seed, so ground truth can be regenerated instead of stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector.psycopg import register_vector
from psycopg import Connection, sql

from tests.support.seed import copy_document

Vectors = npt.NDArray[np.float32]
TOPICS, SUBTOPICS = 50, 20
_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "xe", "zu", "bra", "dre", "fli", "gro", "ple", "sti"]


@dataclass(frozen=True)
class Corpus:
    rows: int
    tenants: int
    dim: int
    seed: int = 42

    def tenant(self, index: int) -> str:
        return f"tenant{index:02d}"

    @property
    def per_tenant(self) -> int:
        return self.rows // self.tenants

    def _centres(self) -> tuple[Vectors, Vectors]:
        rng = np.random.default_rng(self.seed)
        topics = rng.standard_normal((TOPICS, self.dim)).astype(np.float32)
        subs = rng.standard_normal((TOPICS, SUBTOPICS, self.dim)).astype(np.float32)
        return topics, subs

    def _draw(self, rng: np.random.Generator, count: int) -> tuple[Vectors, npt.NDArray[np.int64], Any]:
        topics, subs = self._centres()
        t = rng.integers(0, TOPICS, count)
        s = rng.integers(0, SUBTOPICS, count)
        data = topics[t] + 0.7 * subs[t, s] + 0.45 * rng.standard_normal((count, self.dim)).astype(np.float32)
        return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32), t, s

    def tenant_data(self, index: int) -> tuple[Vectors, list[str]]:
        """The vectors and texts of one tenant, in ordinal order."""
        rng = np.random.default_rng((self.seed, index))
        vectors, t, s = self._draw(rng, self.per_tenant)
        return vectors, [self._text(rng, int(a), int(b), 30) for a, b in zip(t, s, strict=True)]

    def queries(self, count: int) -> list[tuple[str, Vectors, str]]:
        """(tenant, vector, question text) triples, tenants in rotation."""
        rng = np.random.default_rng((self.seed, 10_000))
        vectors, t, s = self._draw(rng, count)
        return [(self.tenant(i % self.tenants), vectors[i], self._text(rng, int(t[i]), int(s[i]), 4))
                for i in range(count)]

    def _text(self, rng: np.random.Generator, topic: int, sub: int, words: int) -> str:
        vocab = _words(f"t{topic}", 12) + _words(f"t{topic}s{sub}", 6)
        return " ".join(vocab[int(i)] for i in rng.integers(0, len(vocab), words))


def _words(key: str, count: int) -> list[str]:
    rng = np.random.default_rng([ord(c) for c in key])  # deterministic across processes, unlike hash()
    return ["".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), 3)) for _ in range(count)]


def _rows(corpus: Corpus, index: int) -> Iterator[tuple[object, ...]]:
    vectors, texts = corpus.tenant_data(index)
    for ordinal, (vector, text) in enumerate(zip(vectors, texts, strict=True)):
        yield ordinal, text, "-", 0, len(text), 30, "synthetic", vector


def load(admin_url: str, corpus: Corpus, *, workers: int = 2, memory: str = "2GB") -> dict[str, float]:
    """Replace all chunks with the corpus (COPY BINARY, index dropped), then build HNSW in parallel."""
    timings: dict[str, float] = {}
    with Connection.connect(admin_url, autocommit=True) as conn:
        register_vector(conn)
        found = conn.execute("SELECT pg_get_indexdef('chunks_embedding_idx'::regclass)").fetchone()
        assert found is not None
        conn.execute("TRUNCATE documents, chunks RESTART IDENTITY CASCADE")
        conn.execute("DROP INDEX chunks_embedding_idx")
        started = time.perf_counter()
        for index in range(corpus.tenants):
            tenant = corpus.tenant(index)
            copy_document(conn, tenant, f"bench/{tenant}.txt", _rows(corpus, index))
        timings["copy_s"] = time.perf_counter() - started
        conn.execute(sql.SQL("ALTER TABLE chunks SET (parallel_workers = {})").format(sql.Literal(int(workers))))
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false),"
                     " set_config('max_parallel_maintenance_workers', %s, false)", (memory, str(workers)))
        started = time.perf_counter()
        conn.execute(found[0])
        timings["hnsw_build_s"] = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE chunks")
        conn.execute("ANALYZE documents")
    return timings


def chunk_ids(admin_url: str, corpus: Corpus) -> dict[str, list[int]]:
    """Chunk ids per tenant in ordinal order, to map exact neighbours (array positions) to rows."""
    with Connection.connect(admin_url) as conn:
        rows = conn.execute("SELECT tenant_id, id FROM chunks ORDER BY tenant_id, ordinal").fetchall()
    ids: dict[str, list[int]] = {}
    for tenant, chunk_id in rows:
        ids.setdefault(str(tenant), []).append(int(chunk_id))
    return ids
