"""Tenant-filtered retrieval at scale: p50/p99 latency and recall@10 against exact search.

Measures, on the same clustered corpus (default 100k chunks x 1536 dimensions, 10 tenants):
the planner's own choice with default settings, HNSW without iterative scan, the vector leg and
the whole hybrid step as the answering service runs them (iterative scan, HNSW_EF_SEARCH), and
LangChain's PGVector ``similarity_search_by_vector`` with a tenant metadata filter.

    .venv/bin/python -m bench.retrieval_latency                        # full size, ~5 min first run
    .venv/bin/python -m bench.retrieval_latency --rows 10000 --queries 50   # quick
    .venv/bin/python -m bench.retrieval_latency --json out.json --langchain-hnsw
    .venv/bin/python -m bench.retrieval_latency --skip-langchain --shared-buffers 2GB --warmup 200  # hot cache

The server's default shared_buffers (128MB) holds neither the HNSW index (781 MB at full size)
nor the heap, so by default every query reads most of its pages from the OS cache.

It runs its own embedded PostgreSQL under .data/bench-retrieval (never the app's or the tests'
database); the corpus is reused while its shape is unchanged (``--reload`` rebuilds it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.retrieval_data import Corpus, Vectors, chunk_ids, load
from bench.retrieval_langchain import LangChainStore
from shared.config import ROOT, Settings, load_settings
from shared.db.database import Conn, Database
from shared.retrieval import search

K = 10
Query = tuple[str, Vectors, str]
Truth = list[set[int]]


def _loaded(admin_url: str, corpus: Corpus) -> bool:
    from psycopg import Connection

    with Connection.connect(admin_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT tenant_id), max(vector_dims(embedding)) FROM chunks"
                           ).fetchone()
    return row is not None and tuple(row) == (corpus.per_tenant * corpus.tenants, corpus.tenants, corpus.dim)


def exact_vector_truth(corpus: Corpus, ids: dict[str, list[int]], queries: list[Query]) -> Truth:
    """True top-K per query by brute force in numpy, one tenant's vectors at a time."""
    truth: Truth = [set() for _ in queries]
    for index in range(corpus.tenants):
        tenant = corpus.tenant(index)
        vectors, _ = corpus.tenant_data(index)
        for i, (q_tenant, vector, _) in enumerate(queries):
            if q_tenant == tenant:
                truth[i] = {ids[tenant][j] for j in np.argsort(-(vectors @ vector))[:K]}
    return truth


def timed(db: Database, queries: list[Query], run: Callable[[Conn, Query], list[int]],
          truth: Truth | None, warmup: int = 10) -> dict[str, float]:
    """Latency of the whole retrieval transaction (pool checkout, settings, query) and recall."""
    for query in queries[:warmup]:
        with db.tenant(query[0]) as conn:
            run(conn, query)
    latencies, found = [], 0
    for i, query in enumerate(queries):
        started = time.perf_counter()
        with db.tenant(query[0]) as conn:
            got = run(conn, query)
        latencies.append((time.perf_counter() - started) * 1000)
        if truth is not None:
            found += len(set(got[:K]) & truth[i])
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "recall_at_10": found / (K * len(queries)) if truth is not None else float("nan")}


def plan_uses_hnsw(db: Database, settings: Settings | None, query: Query, *, hybrid: bool,
                   extra: str | None = None) -> bool:
    with db.tenant(query[0]) as conn:
        if settings is not None:
            search.configure_session(conn, settings)
        if extra:
            conn.execute(extra)
        statement = search.hybrid_statement(len(query[1])) if hybrid else search.vector_statement(len(query[1]))
        params = {"vec": query[1], "tenant": query[0], "candidates": settings.retrieval_candidates if settings else K,
                  "text": search.text_query(query[2]), "rrf_k": 60, "floor": 0.0, "top_k": K}
        plan = conn.execute(b"EXPLAIN (COSTS OFF) " + statement.as_bytes(conn), params).fetchall()
    return any("chunks_embedding_idx" in str(row[0]) for row in plan)


def vector_leg(settings: Settings | None, extra: str | None = None) -> Callable[[Conn, Query], list[int]]:
    def run(conn: Conn, query: Query) -> list[int]:
        if settings is not None:
            search.configure_session(conn, settings)
        if extra:
            conn.execute(extra)
        candidates = settings.retrieval_candidates if settings is not None else K
        return [i for i, _ in search.vector_search(conn, tenant_id=query[0], vector=query[1], limit=K,
                                                   candidates=candidates)]
    return run


def text_leg(settings: Settings) -> Callable[[Conn, Query], list[int]]:
    def run(conn: Conn, query: Query) -> list[int]:
        rows = conn.execute("SELECT id FROM ragworker_text_candidates(%s, %s, %s, NULL) ORDER BY rank",
                            (query[0], search.text_query(query[2]), settings.retrieval_candidates)).fetchall()
        return [int(r[0]) for r in rows]
    return run


def hybrid(settings: Settings, extra: str | None = None) -> Callable[[Conn, Query], list[int]]:
    def run(conn: Conn, query: Query) -> list[int]:
        search.configure_session(conn, settings)
        if extra:
            conn.execute(extra)
        hits = search.hybrid_search(conn, tenant_id=query[0], vector=query[1], question=query[2], top_k=K,
                                    candidates=settings.retrieval_candidates, rrf_k=settings.rrf_k)
        return [h.chunk_id for h in hits]
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--dim", type=int, default=1536)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef-search", type=int, default=None, help="default: HNSW_EF_SEARCH setting")
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".data" / "bench-retrieval")
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument("--langchain-hnsw", action="store_true", help="also time LangChain with a plain HNSW index")
    parser.add_argument("--fts-leakproof", action="store_true",
                        help="also time the hybrid step with ts_match_vq marked LEAKPROOF (superuser only;"
                             " the served full-text leg no longer depends on it)")
    parser.add_argument("--shared-buffers", help="e.g. 2GB: restart the benchmark's server with this setting"
                        " (default 128MB holds neither the 781 MB index nor the heap)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed queries per setup (all of them: hot cache)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    overrides: dict[str, Any] = {"data_dir": args.data_dir, "model_provider": "offline", "database_url": None,
                                 "embedding_dimensions": args.dim}
    if args.ef_search:
        overrides["hnsw_ef_search"] = args.ef_search
    settings = load_settings(**overrides)
    db = Database.from_settings(settings).open()
    if args.shared_buffers:
        db = _with_shared_buffers(db, settings, args.shared_buffers)
    corpus = Corpus(args.rows, args.tenants, args.dim)
    report: dict[str, Any] = {"rows": corpus.per_tenant * corpus.tenants, "tenants": corpus.tenants,
                              "dim": corpus.dim, "queries": args.queries, "ef_search": settings.hnsw_ef_search,
                              "candidates": settings.retrieval_candidates}
    if args.reload or not _loaded(db.admin_url, corpus):
        report["load"] = load(db.admin_url, corpus)
        print(f"loaded: {report['load']}", flush=True)
    ids = chunk_ids(db.admin_url, corpus)
    queries = corpus.queries(args.queries)
    truth = exact_vector_truth(corpus, ids, queries)
    exact_hybrid = [set(hybrid(settings, "SET LOCAL enable_indexscan = off")(c, q)) for c, q in _each(db, queries)]

    def fresh() -> Database:  # a new pool per setup: no prepared plan carries over between setups
        return Database(db.url, embedding_dimensions=args.dim, max_size=1).open(run_migrations=False)

    no_iter = settings.model_copy(update={"hnsw_iterative_scan": "off", "hnsw_ef_search": 40})
    force = "SET LOCAL enable_sort = off"
    setups: list[tuple[str, Callable[[Conn, Query], list[int]], Truth | None, bool]] = [
        ("vector, planner's choice (defaults)", vector_leg(None), truth,
         plan_uses_hnsw(db, None, queries[0], hybrid=False)),
        ("vector, HNSW forced, no iterative scan, ef 40", vector_leg(no_iter, force), truth,
         plan_uses_hnsw(db, no_iter, queries[0], hybrid=False, extra=force)),
        (f"vector leg as served (iterative {settings.hnsw_iterative_scan}, ef {settings.hnsw_ef_search},"
         f" top 10 of {settings.retrieval_candidates})",
         vector_leg(settings), truth, plan_uses_hnsw(db, settings, queries[0], hybrid=False)),
        (f"full-text leg alone (GIN under the tenant scope, {settings.retrieval_candidates} candidates)",
         text_leg(settings), None, False),
        (f"hybrid step as served (vector + full text, RRF, {settings.retrieval_candidates} candidates/leg)",
         hybrid(settings), exact_hybrid, plan_uses_hnsw(db, settings, queries[0], hybrid=True)),
    ]
    rows = []
    for name, run, expected, uses_index in setups:
        pool = fresh()
        rows.append({"setup": name, **timed(pool, queries, run, expected, args.warmup), "hnsw_in_plan": uses_index})
        pool.close()
        print(_line(rows[-1]), flush=True)
    if args.fts_leakproof:
        rows.append(_leakproof_hybrid(db, fresh, settings, queries, exact_hybrid))
        print(_line(rows[-1]), flush=True)
    if not args.skip_langchain:
        store = LangChainStore(db.admin_url, corpus)
        report["langchain_load"] = store.ensure_loaded(ids)
        for with_index in ([False, True] if args.langchain_hnsw else [False]):
            store.set_index(with_index)
            rows.append({"setup": f"LangChain PGVector similarity_search_by_vector, tenant filter"
                                  f"{', plain HNSW index' if with_index else ', no index (as created)'}",
                         **store.timed(queries, truth), "hnsw_in_plan": with_index})
            print(_line(rows[-1]), flush=True)
    report["results"] = rows
    print("\n| setup | p50 ms | p99 ms | recall@10 | HNSW in plan |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['setup']} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['recall_at_10']:.3f} |"
              f" {'yes' if row['hnsw_in_plan'] else 'no'} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    db.close()
    return 0


def _leakproof_hybrid(db: Database, fresh: Callable[[], Database], settings: Settings, queries: list[Query],
                      expected: Truth) -> dict[str, Any]:
    """Row-level security keeps a non-LEAKPROOF operator such as ``tsv @@ query`` out of index
    conditions, so the full-text leg filters every row of the tenant instead of using its GIN
    index. Marking the match function LEAKPROOF (superuser only; not possible on Azure Database
    for PostgreSQL) lifts that; this times the difference and restores the catalog."""
    from psycopg import Connection

    with Connection.connect(db.admin_url, autocommit=True) as conn:
        conn.execute("ALTER FUNCTION ts_match_vq(tsvector, tsquery) LEAKPROOF")
    try:
        uses_index = plan_uses_hnsw(db, settings, queries[0], hybrid=True)
        pool = fresh()
        result = timed(pool, queries, hybrid(settings), expected)
        pool.close()
    finally:
        with Connection.connect(db.admin_url, autocommit=True) as conn:
            conn.execute("ALTER FUNCTION ts_match_vq(tsvector, tsquery) NOT LEAKPROOF")
    return {"setup": "hybrid step, ts_match_vq LEAKPROOF (GIN usable under RLS; superuser only)", **result,
            "hnsw_in_plan": uses_index}


def _with_shared_buffers(db: Database, settings: Settings, size: str) -> Database:
    """Restart the benchmark's own server with ``shared_buffers = size`` (ALTER SYSTEM: it stays set)."""
    from psycopg import Connection, sql

    from shared.db import embedded

    with Connection.connect(db.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(size)))
    db.close()
    embedded.stop_all()
    db = Database.from_settings(settings).open()
    with Connection.connect(db.admin_url) as conn:
        row = conn.execute("SHOW shared_buffers").fetchone()
    print(f"shared_buffers: {row[0] if row else '?'}", flush=True)
    return db


def _each(db: Database, queries: list[Query]) -> Any:
    for query in queries:
        with db.tenant(query[0]) as conn:
            yield conn, query


def _line(row: dict[str, Any]) -> str:
    return (f"{row['setup']}: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
            f"recall@10 {row['recall_at_10']:.3f}, HNSW in plan: {row['hnsw_in_plan']}")


if __name__ == "__main__":
    raise SystemExit(main())
