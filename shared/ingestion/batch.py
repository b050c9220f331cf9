"""Many documents in one pipelined pass: the engine behind the backfill and bulk loads.

A trigger ingests one document at a time and mostly waits: for the model, then for
PostgreSQL (the HNSW insert of every vector, the tsvector, the commit). In a batch the three
stages overlap: the caller's thread extracts and chunks; every full embeddings request
(packed across documents, so a container of small files still costs about ceil(tokens / cap)
requests) goes to one of ``EMBEDDING_CONCURRENCY`` threads; a document whose chunks are all
embedded is committed by one of ``INGEST_WRITERS`` threads, in its own transaction exactly
as the trigger would commit it. The lookup of reusable stored vectors runs once per request
for all the documents it covers instead of once per document (round trips from this thread,
to a database busy with the writers' inserts, were a fifth of the time). Outcomes are the
same as document-by-document ingestion.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from shared.errors import PermanentError, TransientError
from shared.ingestion import store
from shared.ingestion.batching import plan_batches
from shared.ingestion.chunking import Chunk
from shared.ingestion.pipeline import IngestResult, Prepared, batcher, embedding_model, finish, prepare, record
from shared.ingestion.service import Opened, open_bytes
from shared.runtime import Services
from shared.telemetry import set_attributes, span

log = logging.getLogger(__name__)
Item = tuple[Prepared, str, Chunk]  # a chunk still to embed: its document and content hash


class Batch:
    """Feed documents with :meth:`add`, then :meth:`close` for every result.

    Transient failures are collected per document (``errors``) and the batch continues: a
    rerun picks them up, since finished documents are skipped by the ledger. A permanent model
    error fails only the documents whose chunks it concerns.
    """

    def __init__(self, services: Services) -> None:
        s = services.settings
        self.services = services
        self.results: list[IngestResult] = []
        self.errors: list[str] = []
        self.requests = 0
        self._packer = batcher(services)
        self._unlooked: list[Prepared] = []  # prepared, reuse lookup not yet run
        self._unlooked_inputs = 0
        self._items: list[Item] = []  # not yet sent
        self._pending = 0  # tokens in ``_items``
        self._lock = threading.Lock()
        self._dropped: set[int] = set()  # ids of documents that failed: never committed
        self._embedders = ThreadPoolExecutor(s.embedding_concurrency, thread_name_prefix="ingest-embed")
        self._writers = ThreadPoolExecutor(s.ingest_writers, thread_name_prefix="ingest-writer")
        self._jobs: list[Future[None]] = []
        self._commits: list[tuple[str, Future[IngestResult]]] = []
        self._max_jobs = 2 * s.embedding_concurrency  # bounds the texts and vectors held in memory
        self._max_commits = 4 * s.ingest_writers

    def add(self, name: str, open_document: Callable[[], Opened | IngestResult]) -> None:
        """Open (ledger start, download) and prepare one document; send every request it fills."""
        try:
            opened = open_document()
            if isinstance(opened, IngestResult):
                self.results.append(opened)
                return
            with opened.body:
                prepared = prepare(self.services, opened.tenant, opened.info, opened.body, opened.digest,
                                   opened.previous, lookup=False)
        except TransientError as exc:
            self.errors.append(f"{name}: {exc.reason}")
            return
        if isinstance(prepared, IngestResult):
            self.results.append(prepared)
            return
        self._unlooked.append(prepared)
        self._pending += sum(c.token_count for c in prepared.todo.values())
        self._unlooked_inputs += len(prepared.todo)
        policy = self._packer.effective
        if self._pending >= policy.max_tokens or len(self._items) + self._unlooked_inputs >= policy.max_inputs:
            self._lookup()
            self._send(final=False)

    def _lookup(self) -> None:
        """Reuse stored vectors for the documents added since the last request: one query per
        tenant for all of them (a query per document costs more round trips than it finds)."""
        documents, self._unlooked, self._unlooked_inputs = self._unlooked, [], 0
        model = embedding_model(self.services)[0]
        for tenant in {p.tenant for p in documents}:
            group = [p for p in documents if p.tenant == tenant]
            try:
                found = store.reusable(self.services.db, tenant, [h for p in group for h in p.todo], model)
            except TransientError as exc:
                self.errors.extend(f"{p.info.name}: {exc.reason}" for p in group)
                continue
            for p in group:
                for h in [h for h in p.todo if h in found]:
                    p.vectors[h] = found[h]
                    del p.todo[h]
                p.embedded = len(p.todo)
                if not p.todo:  # every vector reused
                    with self._lock:
                        self._commit(p)
                    continue
                self._items += [(p, h, c) for h, c in p.todo.items()]
        self._pending = sum(c.token_count for _, _, c in self._items)

    def _send(self, final: bool) -> None:
        """Hand every complete request (all of them when ``final``) to the embedding threads."""
        counts = [c.token_count for _, _, c in self._items]
        take = len(counts) if final else self._packer.whole_requests(counts)
        for request in plan_batches(counts[:take], self._packer.effective):
            while len(self._jobs) >= self._max_jobs:
                self._jobs.pop(0).result()
            self._jobs.append(self._embedders.submit(self._embed, [self._items[i] for i in request]))
        self._items = self._items[take:]
        self._pending = sum(counts[take:])
        self._collect(wait=False)

    def _embed(self, job: list[Item]) -> None:
        """One request's worth of chunks; complete documents go to the writers."""
        try:
            vectors, usage, sent = self._packer.embed([c.text for _, _, c in job], [c.token_count for _, _, c in job])
        except PermanentError as exc:
            with self._lock:
                self.requests += 1  # refused, but sent
            documents = {id(p): p for p, _, _ in job}
            if len(documents) > 1:  # retry per document so the error fails only its own
                for p in documents.values():
                    self._embed([item for item in job if item[0] is p])
                return
            self._drop(job[0][0], exc, permanent=True)
            return
        except TransientError as exc:
            for p in {id(p): p for p, _, _ in job}.values():
                self._drop(p, exc, permanent=False)
            return
        total = max(1, sum(c.token_count for _, _, c in job))
        with self._lock:
            self.requests += sent
            for (p, h, c), vector in zip(job, vectors, strict=True):
                p.vectors[h] = vector
                p.spent += usage.cost_usd * c.token_count / total
                p.todo.pop(h, None)
            for p in {id(p): p for p, _, _ in job}.values():
                if not p.todo and id(p) not in self._dropped:
                    self._commit(p)

    def _drop(self, p: Prepared, exc: PermanentError | TransientError, *, permanent: bool) -> None:
        with self._lock:
            if id(p) in self._dropped:
                return
            self._dropped.add(id(p))
            if not permanent:
                self.errors.append(f"{p.info.name}: {exc.reason}")
        if permanent:
            result = record(self.services, p.tenant, p.info, "failed", f"embedding failed: {exc.reason}", p.digest)
            with self._lock:
                self.results.append(result)

    def _commit(self, p: Prepared) -> None:
        """Queue the document's transaction (call with ``_lock`` held)."""
        self._commits.append((p.info.name, self._writers.submit(finish, self.services, p)))

    def _collect(self, *, wait: bool) -> None:
        """Take finished commits' results; block on the oldest while too many are in flight."""
        while True:
            with self._lock:
                if not self._commits or not (wait or len(self._commits) > self._max_commits
                                              or self._commits[0][1].done()):
                    return
                name, future = self._commits.pop(0)
            try:
                result = future.result()
            except TransientError as exc:
                with self._lock:
                    self.errors.append(f"{name}: {exc.reason}")
                continue
            with self._lock:
                self.results.append(result)

    def close(self) -> list[IngestResult]:
        """Send what is left, wait for every request and commit; the results in completion order."""
        try:
            self._lookup()
            if self._items:
                self._send(final=True)
            for job in self._jobs:
                job.result()
            self._jobs.clear()
            self._collect(wait=True)
        finally:
            self._embedders.shutdown(wait=True, cancel_futures=True)
            self._writers.shutdown(wait=True, cancel_futures=True)
        return self.results


def run(services: Services, items: Iterable[tuple[str, Callable[[], Opened | IngestResult]]]) -> Batch:
    """Ingest ``(name, opener)`` pairs as one batch, under one telemetry span; the closed batch."""
    with span("ingestion.batch") as current:
        batch = Batch(services)
        documents = 0
        try:
            for name, opener in items:
                batch.add(name, opener)
                documents += 1
        finally:
            batch.close()
        results = batch.results
        set_attributes(current, documents=documents, chunks=sum(r.chunks for r in results),
                       tokens=sum(r.tokens for r in results), cost_usd=round(sum(r.cost_usd for r in results), 8),
                       model=next((r.model for r in results if r.model), None),
                       outcome="complete" if not batch.errors else "partial",
                       requests=batch.requests, errors=len(batch.errors),
                       ready=Counter(r.outcome for r in results).get("ready", 0))
        return batch


def ingest_documents(services: Services, tenant: str, documents: Iterable[tuple[str, bytes]], *,
                     container: str = "documents") -> Batch:
    """Content already in memory (bulk loads, benchmarks) through the same batch; no storage."""
    return run(services, ((name, partial(open_bytes, services, tenant, name, data, container=container))
                          for name, data in documents))
