"""Ingestion throughput: this pipeline vs LangChain on the same corpus, database and embedder.

Both sides use the offline hashing embedder (so the model is not what is measured) and the
same embedded PostgreSQL. LangChain: ``TokenTextSplitter`` (cl100k_base, 500/60 tokens) and
``PGVector.add_documents``, once per document and once for the whole corpus. This pipeline,
with its ledger, structure-aware chunks, vector reuse lookup and one-transaction replace per
document: ``ingest_bytes`` per file (what the blob trigger does) and ``batch.ingest_documents``
(what the backfill does: requests packed across documents, embedding and commits overlapped
on ``INGEST_WRITERS`` threads). A bare path (token split + embed + binary COPY into a plain
table, one document at a time) is the reference.

Measured twice: with an HNSW cosine index on every vector table (as deployed, the app's own
m / ef_construction on every table) and with none (the pipelines' own overhead). Prints MB/s
and ratios from this run, and the bare path's own ratio to LangChain: the ceiling for anything
that splits, embeds and writes the same rows. Runs are interleaved and the best of N is kept
(the machine is shared).

LangChain's insert (langchain-postgres 0.0.19): one SQLAlchemy ``INSERT ... VALUES ... ON
CONFLICT`` for all rows of a call, each vector bound as a text parameter (pgvector's SQLAlchemy
type sends ``'[0.0123,...]'``, ~30 KB per 1536-d vector) rather than binary. With an HNSW index
every path pays the same per-vector graph insert (a few ms at ef_construction 128), which
dominates all of them; structure-aware chunks are also more numerous (paragraphs are never cut
to fill a chunk), so the insert count is not equal either.

    .venv/bin/python -m bench.ingest_vs_langchain            # 1.5 MB, 1536 dimensions, best of 3 (~4 min)
    .venv/bin/python -m bench.ingest_vs_langchain --mb 0.5 --dimensions 512
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import psycopg
from langchain_core.embeddings import Embeddings
from langchain_postgres import PGVector
from langchain_text_splitters import TokenTextSplitter
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict

from bench.ingest_common import bench_services, corpus, hnsw_options, set_hnsw, wipe
from shared.ingestion.batch import ingest_documents
from shared.ingestion.service import ingest_bytes
from shared.runtime import Services

COLLECTION = "ingest_bench"


class OfflineEmbeddings(Embeddings):
    """The app's own offline embedder behind LangChain's interface."""

    def __init__(self, services: Services) -> None:
        self.model = services.model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.embed(texts).vectors

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed([text]).vectors[0]


def _sqlalchemy_url(conninfo: str) -> str:
    p = conninfo_to_dict(conninfo)
    return (f"postgresql+psycopg://{p.get('user', '')}@/{p.get('dbname', '')}"
            f"?host={p.get('host', '')}&port={p.get('port', 5432)}")


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    chunks = fn()
    return time.perf_counter() - started, chunks


def run_ours(services: Services, docs: list[tuple[str, bytes]]) -> int:
    return sum(ingest_bytes(services, "bench", name, data).chunks for name, data in docs)


def run_ours_batch(services: Services, docs: list[tuple[str, bytes]]) -> int:
    """The backfill path: requests packed across documents, commits on INGEST_WRITERS threads."""
    done = ingest_documents(services, "bench", docs)
    if done.errors:
        raise RuntimeError(f"batch ingestion failed: {done.errors[:3]}")
    return sum(r.chunks for r in done.results)


def run_langchain(store: PGVector, splitter: TokenTextSplitter, docs: list[tuple[str, bytes]]) -> int:
    chunks = 0
    for name, data in docs:
        pieces = splitter.create_documents([data.decode("utf-8")], metadatas=[{"source": name, "tenant": "bench"}])
        store.add_documents(pieces)
        chunks += len(pieces)
    return chunks


def run_langchain_once(store: PGVector, splitter: TokenTextSplitter, docs: list[tuple[str, bytes]]) -> int:
    """The whole corpus in one ``add_documents`` call (one multi-row INSERT of text-encoded vectors)."""
    pieces = [p for name, data in docs for p in splitter.create_documents(
        [data.decode("utf-8")], metadatas=[{"source": name, "tenant": "bench"}])]
    store.add_documents(pieces)
    return len(pieces)


def run_bare(services: Services, splitter: TokenTextSplitter, docs: list[tuple[str, bytes]], dim: int) -> int:
    chunks = 0
    with psycopg.connect(services.db.url, autocommit=True) as conn:
        register_vector(conn)
        for name, data in docs:
            pieces = splitter.split_text(data.decode("utf-8"))
            vectors = services.model.embed(pieces).vectors
            with conn.transaction(), conn.cursor().copy(
                    "COPY bare_chunks (source, content, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "vector"])
                for text, vector in zip(pieces, vectors, strict=True):
                    copy.write_row((name, text, vector))
            chunks += len(pieces)
    return chunks


def _reset_others(services: Services, dim: int, hnsw: bool) -> None:
    with psycopg.connect(services.db.url, autocommit=True) as conn:
        conn.execute("DELETE FROM langchain_pg_embedding")
        conn.execute("DROP TABLE IF EXISTS bare_chunks")
        conn.execute(f"CREATE TABLE bare_chunks (id bigserial PRIMARY KEY, source text, content text,"
                     f" embedding vector({dim}))")
        for table, index in (("langchain_pg_embedding", "langchain_ingest_hnsw"), ("bare_chunks", "bare_hnsw")):
            conn.execute(f"DROP INDEX IF EXISTS {index}")
            if hnsw:
                conn.execute(f"CREATE INDEX {index} ON {table} USING hnsw (embedding vector_cosine_ops)"
                             + hnsw_options())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=1.5, help="corpus size in MB of Markdown")
    parser.add_argument("--dimensions", type=int, default=1536)
    parser.add_argument("--target", type=int, default=500,
                        help="this pipeline's CHUNK_TARGET_TOKENS (LangChain's chunk_size stays 500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per pipeline; the best is reported")
    parser.add_argument("--files-per-document", type=int, default=1,
                        help="sample files joined per document (1: ~5 KB documents; 20: ~100 KB)")
    args = parser.parse_args()

    services = bench_services(f"bench-ingest-{args.dimensions}", embedding_dimensions=args.dimensions,
                              chunk_target_tokens=args.target, chunk_overlap_tokens=60)
    docs = corpus(args.mb, args.files_per_document)
    megabytes = sum(len(d) for _, d in docs) / 1e6
    splitter = TokenTextSplitter(encoding_name="cl100k_base", chunk_size=500, chunk_overlap=60)
    store = PGVector(embeddings=OfflineEmbeddings(services), connection=_sqlalchemy_url(services.db.url),
                     embedding_length=args.dimensions, collection_name=COLLECTION, use_jsonb=True,
                     create_extension=False)
    print(f"corpus: {len(docs)} Markdown documents, {megabytes:.2f} MB; offline embedder, {args.dimensions} dims")
    run_ours(services, docs[:3])  # warm-up: tokenizer tables, pools
    wipe(services)
    runs: dict[str, Callable[[], int]] = {
        "this pipeline, per doc": lambda: run_ours(services, docs),
        "this pipeline, backfill": lambda: run_ours_batch(services, docs),
        "LangChain, per document": lambda: run_langchain(store, splitter, docs),
        "LangChain, one call": lambda: run_langchain_once(store, splitter, docs),
        "bare split + COPY": lambda: run_bare(services, splitter, docs, args.dimensions),
    }
    for hnsw in (True, False):
        set_hnsw(services, hnsw)
        best: dict[str, tuple[float, int]] = {}
        for _ in range(args.repeat):  # interleaved, best of N: the machine is shared and noisy
            for name, run in runs.items():
                _reset_others(services, args.dimensions, hnsw)
                wipe(services)
                seconds, chunks = _timed(run)
                if name not in best or seconds < best[name][0]:
                    best[name] = (seconds, chunks)
        label = "HNSW index on every vector table (as deployed)" if hnsw else "no vector index"
        print(f"\n[{label}] best of {args.repeat}")
        for name, (seconds, chunks) in best.items():
            print(f"  {name:<24} {seconds:7.2f} s  {megabytes / seconds:6.2f} MB/s  {chunks:6d} chunks")
        seconds = {name: value[0] for name, value in best.items()}
        trigger, bulk = seconds["this pipeline, per doc"], seconds["this pipeline, backfill"]
        print(f"  throughput ratios (MB/s): per document {seconds['LangChain, per document'] / trigger:.1f}x"
              f" LangChain per document; backfill {seconds['LangChain, per document'] / bulk:.1f}x LangChain per"
              f" document, {seconds['LangChain, one call'] / bulk:.1f}x LangChain one call,"
              f" {seconds['bare split + COPY'] / bulk:.2f}x bare")
        bare = seconds["bare split + COPY"]
        print(f"  ceiling: bare split + COPY is {seconds['LangChain, per document'] / bare:.1f}x LangChain per"
              f" document and {seconds['LangChain, one call'] / bare:.1f}x LangChain one call in this run")
    set_hnsw(services, True)
    services.close()


if __name__ == "__main__":
    main()
