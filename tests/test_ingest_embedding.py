"""Packed embedding requests, 429 handling and the shared token budget, over real HTTP."""

from __future__ import annotations

from typing import Any

from azure.storage.blob import ContainerClient

from shared.ingestion.quota import TokenBudget
from shared.ingestion.service import ingest_blob
from shared.runtime import Services
from tests.support.aoai_server import ScriptedAOAI, embeddings_vectors, rate_limited
from tests.support.ingest import (
    azure_ingest_services,
    binding_client,
    container,
    markdown_doc,
    upload,
)

__all__ = ["container"]


def test_2500_chunk_document_is_packed_within_2048_inputs(make_services: Any, aoai_server: ScriptedAOAI,
                                                          azurite: Any, container: ContainerClient) -> None:
    services = azure_ingest_services(make_services, aoai_server, azurite, chunk_target_tokens=50,
                                     chunk_overlap_tokens=0)
    paragraphs = [f"Item {i}: the {i}th archive of workspace {i % 97} keeps versions for {i % 30 + 1} days "
                  f"and is replicated to region {i % 7} under contract {i * 13}." for i in range(2500)]
    upload(container, "catalogue.txt", "\n\n".join(paragraphs))
    # One repeated unit vector per request: keeps the HNSW index insert (the test's real cost) cheap.
    same = [1.0] + [0.0] * 1535
    aoai_server.script_embeddings(*[lambda rec: embeddings_vectors([same] * len(rec.body["input"]))] * 2)
    result = ingest_blob(services, binding_client("catalogue.txt"))

    assert result.outcome == "ready" and result.chunks == 2500, result
    calls = aoai_server.calls("embeddings")
    sizes = [len(call.body["input"]) for call in calls]
    assert sum(sizes) == 2500 and max(sizes) <= 2048 and len(calls) == 2
    assert all(call.body.get("dimensions") == 1536 for call in calls)


def test_429_then_success_honours_retry_after(make_services: Any, aoai_server: ScriptedAOAI, azurite: Any,
                                              container: ContainerClient) -> None:
    services = azure_ingest_services(make_services, aoai_server, azurite)
    aoai_server.script_embeddings(rate_limited(retry_after=0.2))
    upload(container, "manual.md", markdown_doc(sections=3))
    result = ingest_blob(services, binding_client("manual.md"))
    calls = aoai_server.calls("embeddings")
    assert result.outcome == "ready" and result.requests == 1
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].body["input"] == calls[0].body["input"]


def test_shared_budget_makes_a_second_instance_wait(services: Services) -> None:
    """Two budgets over one database are two instances: the second waits for the window to free."""
    waits: list[float] = []
    first = TokenBudget(services.db, scope="test", limit=1000, window_seconds=0.5)
    second = TokenBudget(services.db, scope="test", limit=1000, window_seconds=0.5,
                         sleep=lambda s: (waits.append(s), __import__("time").sleep(s))[1])
    grant, booked = first.acquire(700)
    assert booked == 700
    second.acquire(400)  # 700 + 400 > 1000: must wait until the first grant leaves the window
    assert waits and 0.05 < sum(waits) <= 0.6
    with services.db.unscoped() as conn:
        total = conn.execute("SELECT sum(tokens) FROM embedding_quota_grants WHERE scope = 'test'").fetchone()
    assert total == (400,)
    first.settle(grant, 700, 900)  # the service charged more than counted: later estimates grow
    assert first.estimate(100) > 100


def test_quota_enforced_by_server_no_document_lost(make_services: Any, aoai_server: ScriptedAOAI, azurite: Any,
                                                  container: ContainerClient) -> None:
    services = azure_ingest_services(make_services, aoai_server, azurite, embedding_tpm_limit=3000,
                                     embedding_tpm_window_seconds=1.0, embedding_batch_max_tokens=1000)
    aoai_server.enforce_tpm(3000, window_seconds=1.0)
    for i in range(3):
        upload(container, f"doc{i}.md", markdown_doc(sections=4, seed=i))
    results = [ingest_blob(services, binding_client(f"doc{i}.md")) for i in range(3)]
    assert [r.outcome for r in results] == ["ready"] * 3
    stats = aoai_server.tpm_stats()
    assert stats.requests_accepted >= 3
