"""Hybrid retrieval: pgvector cosine (HNSW) and full text, fused by reciprocal rank fusion.

Runs on a connection from ``db.tenant(...)``: row-level security already limits every row to
the caller's tenant; the explicit ``tenant_id = %s`` predicate is for the planner's estimates.
pgvector 0.8's iterative index scan keeps walking the HNSW graph until enough rows pass that
filter; without it a filtered HNSW scan silently returns fewer, worse neighbours.
Under row-level security ``tsv @@ query`` is not LEAKPROOF, so PostgreSQL will not use it as a
GIN index condition on chunks; the full-text leg therefore reads ``chunk_fulltext`` through
``ragworker_text_candidates`` (migration 0005), which filters on the connection's tenant itself
and lets the GIN index find the matches (see bench/retrieval_latency.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from psycopg import sql

from shared.config import Settings
from shared.db.database import Conn
from shared.retrieval.models import Filters

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_TEXT_TERMS = 32


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its scores."""

    chunk_id: int
    document_id: int
    blob_path: str
    page: int | None
    heading_path: list[str]
    content: str
    similarity: float
    rrf: float
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def document(self) -> str:
        return self.blob_path.rsplit("/", 1)[-1]


def configure_session(conn: Conn, settings: Settings) -> None:
    """Index-scan settings for this transaction only (``set_config(..., true)`` = SET LOCAL).

    Custom plans always: psycopg prepares a statement after a few executions, and a generic
    plan chosen without the tenant's selectivity or the settings above can be the exact scan.
    """
    conn.execute(
        "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', %s, true),"
        " set_config('hnsw.max_scan_tuples', %s, true), set_config('plan_cache_mode', 'force_custom_plan', true)",
        (str(settings.hnsw_ef_search), settings.hnsw_iterative_scan, str(settings.hnsw_max_scan_tuples)),
    )


def text_query(question: str) -> str:
    """Any-word ``websearch_to_tsquery`` input: questions rarely contain every word of the answer."""
    words = _WORD.findall(question.lower())[:_MAX_TEXT_TERMS]
    return " or ".join(w for w in words if w != "or")


def document_ids(conn: Conn, filters: Filters) -> list[int] | None:
    """Ids of the documents the filters allow; None when there are no filters."""
    if filters.document is None and filters.path_prefix is None:
        return None
    rows = conn.execute(
        "SELECT id FROM documents WHERE (%(doc)s::text IS NULL OR blob_path = %(doc)s"
        " OR right(blob_path, length(%(doc)s) + 1) = '/' || %(doc)s)"
        " AND (%(prefix)s::text IS NULL OR starts_with(blob_path, %(prefix)s))",
        {"doc": filters.document, "prefix": filters.path_prefix},
    ).fetchall()
    return [int(r[0]) for r in rows]


_VECTOR_LEG = sql.SQL(
    "SELECT id, embedding <=> %(vec)s AS distance FROM chunks"
    " WHERE tenant_id = %(tenant)s{doc_filter} ORDER BY {order} LIMIT %(candidates)s"
)
# Above 2,000 dimensions the HNSW index is built on embedding::halfvec(n) (migration 0006), so the
# leg orders by that expression, cast to the same dimension; the distance reported stays exact.
HALFVEC_INDEX_ABOVE = 2000
_FULL_ORDER = sql.SQL("embedding <=> %(vec)s")
_HALF_ORDER = sql.SQL("embedding::halfvec({dims}) <=> %(vec)s::halfvec({dims})")
# The full-text leg reads chunk_fulltext through its owner's function (migration 0005), which
# keeps to the connection's tenant itself so that its GIN index can serve ``@@``.
_TEXT_LEG = sql.SQL(
    "SELECT id, rank FROM ragworker_text_candidates(%(tenant)s, %(text)s, %(candidates)s, {doc_ids})"
)
_NO_TEXT_LEG = sql.SQL("SELECT NULL::bigint AS id, NULL::bigint AS rank WHERE false")
# The legs and their fusion are materialized (at most 2 x candidates rows), then joined once to
# chunks by primary key; similarity is computed only for text-leg rows the vector leg missed.
_HYBRID = sql.SQL(
    "WITH v AS ({vector_leg}),"
    " vr AS (SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank FROM v),"
    " t AS ({text_leg}),"
    " fused AS MATERIALIZED (SELECT coalesce(vr.id, t.id) AS id, vr.distance, vr.rank AS vector_rank,"
    "   t.rank AS text_rank,"
    "   coalesce(1.0 / (%(rrf_k)s + vr.rank), 0) + coalesce(1.0 / (%(rrf_k)s + t.rank), 0) AS rrf"
    "   FROM vr FULL OUTER JOIN t ON vr.id = t.id),"
    " scored AS (SELECT c.id, c.document_id, c.page, c.heading_path, c.content, f.rrf, f.vector_rank,"
    "   f.text_rank, 1 - coalesce(f.distance, c.embedding <=> %(vec)s) AS similarity"
    "   FROM fused f JOIN chunks c ON c.id = f.id)"
    " SELECT s.id, s.document_id, d.blob_path, s.page, s.heading_path, s.content, s.similarity, s.rrf,"
    "   s.vector_rank, s.text_rank"
    " FROM scored s JOIN documents d ON d.id = s.document_id"
    " WHERE s.similarity >= %(floor)s"
    " ORDER BY s.rrf DESC, s.similarity DESC, s.id LIMIT %(top_k)s"
)


def _doc_filter(ids: list[int] | None) -> sql.Composable:
    return sql.SQL("") if ids is None else sql.SQL(" AND document_id = ANY(%(doc_ids)s)")


def vector_statement(dimensions: int, doc_ids: list[int] | None = None) -> sql.Composed:
    """The vector leg's SQL for query vectors of ``dimensions`` (also for EXPLAIN in tests and benchmarks)."""
    order = _HALF_ORDER.format(dims=sql.Literal(dimensions)) if dimensions > HALFVEC_INDEX_ABOVE else _FULL_ORDER
    return _VECTOR_LEG.format(doc_filter=_doc_filter(doc_ids), order=order)


def hybrid_statement(dimensions: int, doc_ids: list[int] | None = None, *, with_text: bool = True) -> sql.Composed:
    """The whole hybrid query's SQL; parameters as in :func:`hybrid_search`."""
    doc_ids_param = sql.SQL("NULL::bigint[]") if doc_ids is None else sql.SQL("%(doc_ids)s::bigint[]")
    return _HYBRID.format(vector_leg=vector_statement(dimensions, doc_ids),
                          text_leg=_TEXT_LEG.format(doc_ids=doc_ids_param) if with_text else _NO_TEXT_LEG)


def vector_search(
    conn: Conn, *, tenant_id: str, vector: Sequence[float], limit: int, candidates: int | None = None,
    doc_ids: list[int] | None = None,
) -> list[tuple[int, float]]:
    """The vector leg alone: (chunk id, cosine distance), nearest first.

    A relaxed-order iterative scan returns rows only roughly by distance, so ``candidates`` rows
    (default ``limit``) are taken from the index and re-sorted before the first ``limit`` are kept,
    as the hybrid query does with its vector leg.
    """
    query = sql.SQL("SELECT id, distance FROM ({leg}) AS leg ORDER BY distance, id LIMIT %(limit)s").format(
        leg=vector_statement(len(vector), doc_ids))
    params = {"vec": np.asarray(vector, dtype=np.float32), "tenant": tenant_id, "doc_ids": doc_ids,
              "candidates": max(candidates or limit, limit), "limit": limit}
    return [(int(r[0]), float(r[1])) for r in conn.execute(query, params).fetchall()]


def hybrid_search(
    conn: Conn,
    *,
    tenant_id: str,
    vector: Sequence[float],
    question: str,
    top_k: int,
    candidates: int,
    rrf_k: int,
    floor: float = 0.0,
    doc_ids: list[int] | None = None,
) -> list[Hit]:
    """Top ``top_k`` chunks by fused rank among those at least ``floor`` cosine-similar."""
    if doc_ids is not None and not doc_ids:
        return []
    terms = text_query(question)
    query = hybrid_statement(len(vector), doc_ids, with_text=bool(terms))
    params: dict[str, Any] = {
        "vec": np.asarray(vector, dtype=np.float32), "tenant": tenant_id, "text": terms,
        "candidates": candidates, "rrf_k": rrf_k, "floor": floor, "top_k": top_k, "doc_ids": doc_ids,
    }
    rows = conn.execute(query, params).fetchall()
    return [
        Hit(chunk_id=int(r[0]), document_id=int(r[1]), blob_path=str(r[2]), page=r[3], heading_path=list(r[4]),
            content=str(r[5]), similarity=float(r[6]), rrf=float(r[7]),
            ranks={k: int(v) for k, v in (("vector", r[8]), ("text", r[9])) if v is not None})
        for r in rows
    ]
