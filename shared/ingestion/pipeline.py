"""The per-document steps between a downloaded body and committed chunks.

``prepare`` extracts, chunks and looks up reusable vectors; ``embed_group`` embeds what is
new for one or many prepared documents in packed requests (a backfill packs across
documents, so a container of small files still costs about ceil(tokens / cap) requests)
and ``finish`` replaces each document's chunks in its own transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict

from shared import tokens
from shared.errors import PermanentError
from shared.ingestion import ledger, store
from shared.ingestion.batching import BatchPolicy, EmbeddingBatcher
from shared.ingestion.chunking import Chunk, ChunkingPolicy, chunk_document
from shared.ingestion.extract import CorruptDocumentError, UnsupportedFormatError, extract
from shared.ingestion.quota import TokenBudget
from shared.ingestion.source import BlobInfo
from shared.runtime import Services

log = logging.getLogger(__name__)
Outcome = Literal["ready", "failed", "unsupported", "too_large", "unchanged", "missing", "rejected"]


class IngestResult(BaseModel):
    """What one delivery did; logged by the trigger and printed by the CLI."""

    model_config = ConfigDict(extra="forbid")

    blob_path: str
    tenant: str | None
    outcome: Outcome
    reason: str | None = None
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    tokens: int = 0
    requests: int = 0
    cost_usd: float = 0.0
    model: str | None = None


@dataclass
class Prepared:
    tenant: str
    info: BlobInfo
    digest: str
    chunks: list[Chunk]
    hashes: list[str]
    vectors: dict[str, Any]  # content hash -> vector, reused ones first
    todo: dict[str, Chunk]  # content hash -> chunk still to embed
    embedded: int = 0  # chunks (distinct texts) that needed the model
    spent: float = 0.0  # this document's share of the embedding cost

    def __post_init__(self) -> None:
        self.embedded = len(self.todo)


def embedding_model(services: Services) -> tuple[str, str]:
    """(model stored with the vectors, model whose tokenizer sizes the chunks)."""
    model = services.model.model_for("embeddings")
    return model, services.settings.embedding_deployment if model == "offline" else model


def batcher(services: Services) -> EmbeddingBatcher:
    s = services.settings
    budget = None
    if s.embedding_tpm_limit > 0:
        budget = TokenBudget(services.db, scope=f"{services.model.provider}:{embedding_model(services)[0]}",
                             limit=s.embedding_tpm_limit, window_seconds=s.embedding_tpm_window_seconds,
                             max_wait_seconds=s.embedding_quota_max_wait_seconds)
    policy = BatchPolicy(s.embedding_batch_max_inputs, s.embedding_batch_max_tokens, s.embedding_concurrency)
    return EmbeddingBatcher(services.model, policy, budget)


def record(services: Services, tenant: str, info: BlobInfo, status: ledger.Status, reason: str,
           digest: str | None = None) -> IngestResult:
    """A terminal outcome without chunks, in the ledger and as the result."""
    ledger.settle(services.db, tenant, info.path, status=status, reason=reason, etag=info.etag,
                  content_sha256=digest)
    log.warning("%s recorded as %s: %s", info.path, status, reason)
    outcome: Outcome = status if status != "processing" else "failed"
    return IngestResult(blob_path=info.path, tenant=tenant, outcome=outcome, reason=reason)


def prepare(services: Services, tenant: str, info: BlobInfo, body: IO[bytes], digest: str,
            previous: ledger.LedgerRow, *, lookup: bool = True) -> Prepared | IngestResult:
    """Chunks and reusable vectors of the body, or the result when there is nothing to embed.

    ``lookup=False`` leaves the reuse lookup to the caller (a batch runs one for many documents).
    """
    settings = services.settings
    model, token_model = embedding_model(services)
    if (previous.content_sha256 == digest and previous.status in ledger.FINISHED
            and (previous.status != "ready" or (previous.embedding_model == model
                                                and previous.embedding_dimensions == settings.embedding_dimensions))):
        ledger.touch(services.db, tenant, info.path, status=previous.status, etag=info.etag)
        return IngestResult(blob_path=info.path, tenant=tenant, outcome="unchanged", reason="same content")
    try:
        blocks = extract(body, info.name)
    except UnsupportedFormatError as exc:
        return record(services, tenant, info, "unsupported", exc.reason, digest)
    except CorruptDocumentError as exc:
        return record(services, tenant, info, "failed", exc.reason, digest)
    policy = ChunkingPolicy(settings.chunk_target_tokens, settings.chunk_overlap_tokens,
                            settings.embedding_max_input_tokens)
    chunks = chunk_document(blocks, tokens.encoding_for(token_model), policy)
    hashes = [store.content_hash(c.text) for c in chunks]
    vectors = store.reusable(services.db, tenant, hashes, model) if lookup else {}
    todo = {h: c for h, c in zip(hashes, chunks, strict=True) if h not in vectors}
    return Prepared(tenant, info, digest, chunks, hashes, vectors, todo)


def embed_group(services: Services, group: list[Prepared], *, final: bool = True) -> tuple[list[IngestResult], int]:
    """Embed the new chunks of the prepared documents in shared packed requests and commit every
    document whose chunks are all embedded; returns (results, requests sent).

    With ``final=False`` only complete requests are sent; documents with chunks left over stay
    in ``group`` (their finished vectors kept) for the next call. A permanent model error is
    retried per document so it fails only its own document.
    """
    packer = batcher(services)
    items = [(p, h, c) for p in group for h, c in p.todo.items()]
    counts = [c.token_count for _, _, c in items]
    take = len(items) if final else packer.whole_requests(counts)
    try:
        fresh, usage, requests = packer.embed([c.text for _, _, c in items[:take]], counts[:take])
    except PermanentError as exc:
        if len(group) == 1:
            p = group.pop()
            return [record(services, p.tenant, p.info, "failed", f"embedding failed: {exc.reason}", p.digest)], 1
        results, requests = [], 0
        for p in list(group):
            single = [p]
            done, sent = embed_group(services, single)
            results += done
            requests += sent
            group.remove(p)
        return results, requests
    total = max(1, sum(counts[:take]))
    for (p, h, c), vector in zip(items[:take], fresh, strict=True):
        p.vectors[h] = vector
        p.spent += usage.cost_usd * c.token_count / total
        del p.todo[h]
    results = []
    for p in [p for p in group if not p.todo]:
        results.append(finish(services, p))
        group.remove(p)
    return results, requests


def finish(services: Services, p: Prepared) -> IngestResult:
    """Replace the document's chunks with the reused and fresh vectors, in one transaction."""
    model = embedding_model(services)[0]
    store.replace(services.db, p.tenant, p.info.path, chunks=p.chunks, hashes=p.hashes,
                  vectors=[p.vectors[h] for h in p.hashes], model=model,
                  dimensions=services.settings.embedding_dimensions, etag=p.info.etag, content_sha256=p.digest)
    return IngestResult(blob_path=p.info.path, tenant=p.tenant, outcome="ready", chunks=len(p.chunks),
                        embedded=p.embedded, reused=len(p.chunks) - p.embedded,
                        tokens=sum(c.token_count for c in p.chunks), cost_usd=round(p.spent, 8), model=model)


def ingest_content(services: Services, tenant: str, info: BlobInfo, body: IO[bytes], digest: str,
                   previous: ledger.LedgerRow) -> IngestResult:
    """One document from body to committed chunks."""
    prepared = prepare(services, tenant, info, body, digest, previous)
    if isinstance(prepared, IngestResult):
        return prepared
    results, requests = embed_group(services, [prepared])
    return results[0].model_copy(update={"requests": requests})
