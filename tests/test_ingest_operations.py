"""Operator commands on real parts: backfill, status, reconcile and a live re-embed switch."""

from __future__ import annotations

import math
from typing import Any

from azure.storage.blob import ContainerClient

from shared.ingestion import ledger
from shared.ingestion.operations import backfill, reconcile, status
from shared.ingestion.reembed import stage, switch, target_settings
from tests.support.ingest import container, markdown_doc, upload

__all__ = ["container"]


def test_backfill_status_and_reconcile(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string)
    upload(container, "acme/a.md", markdown_doc(sections=2))
    upload(container, "acme/b.pdf", b"not a pdf at all")
    upload(container, "globex/c.txt", "Plain notes about the restore window.")
    upload(container, "d.bin", b"\x00\x01")

    first = backfill(services, container)
    assert first.outcomes == {"ready": 2, "failed": 1, "unsupported": 1} and not first.errors
    again = backfill(services, container)
    assert again.outcomes == {"unchanged": 4} and again.embedded == 0

    report = status(services)
    assert set(report) == {"acme", "globex", "default"}
    assert report["acme"]["documents"] == {"ready": 1, "failed": 1}
    assert report["acme"]["attention"][0]["blob_path"] == "documents/acme/b.pdf"

    container.delete_blob("globex/c.txt")  # its BlobDeleted event was never delivered
    assert reconcile(services, container, dry_run=True) == ["documents/globex/c.txt"]
    assert reconcile(services, container) == ["documents/globex/c.txt"]
    assert reconcile(services, container) == []
    with services.db.tenant("globex") as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)


def _dims(services: Any, tenant: str) -> set[int]:
    with services.db.tenant(tenant) as conn:
        return {r[0] for r in conn.execute("SELECT vector_dims(embedding) FROM chunks").fetchall()}


def test_reembed_to_a_new_dimension_and_back(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string)
    upload(container, "acme/a.md", markdown_doc(sections=3))
    upload(container, "globex/b.md", markdown_doc(sections=2, seed=3))
    backfill(services, container)
    with services.db.tenant("acme") as conn:
        before = conn.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall()
    original = services.settings.embedding_dimensions
    shape_sql = ("SELECT pg_get_indexdef('chunks_embedding_idx'::regclass), attstorage FROM pg_attribute"
                 " WHERE attrelid = 'chunks'::regclass AND attname = 'embedding'")
    with services.db.unscoped() as conn:
        shape = conn.execute(shape_sql).fetchone()
    target = target_settings(services.settings, services.settings.embedding_deployment, 512)

    staged = stage(services, target)
    assert staged["acme"] == len(before) and staged["globex"] > 0
    with services.db.tenant("acme") as conn:  # searches still read the old vectors until the switch
        assert conn.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall() == before
    assert stage(services, target) == {"acme": 0, "globex": 0}  # resumable: nothing left to do
    try:
        assert switch(services, target) == sum(staged.values())
        assert _dims(services, "acme") == {512} and _dims(services, "globex") == {512}
        with services.db.tenant("acme") as conn:
            assert conn.execute("SELECT DISTINCT embedding_dimensions FROM documents").fetchall() == [(512,)]
            assert conn.execute("SELECT count(*) FROM chunk_embeddings_next").fetchone() == (0,)
    finally:  # the session's database is shared: switch back to the configured dimension
        back = target_settings(services.settings, services.settings.embedding_deployment, original)
        stage(services, back)
        switch(services, back)
    assert _dims(services, "acme") == {original}
    with services.db.unscoped() as conn:  # the index (with its build options) and storage are as before
        assert conn.execute(shape_sql).fetchone() == shape


def test_backfill_packs_small_documents_into_shared_requests(make_services: Any, aoai_server: Any, azurite: Any,
                                                             container: ContainerClient) -> None:
    from tests.support.ingest import azure_ingest_services

    services = azure_ingest_services(make_services, aoai_server, azurite, embedding_batch_max_tokens=5000)
    for i in range(12):
        upload(container, f"acme/note{i}.md", markdown_doc(sections=1, paragraphs=3, seed=i))
    report = backfill(services, container)
    calls = aoai_server.calls("embeddings")
    assert report.outcomes == {"ready": 12} and report.requests == len(calls)
    assert sum(len(c.body["input"]) for c in calls) == report.embedded == report.chunks
    assert len(calls) <= math.ceil(report.tokens / 5000) + 1 < 12  # one request per document would be 12


def test_backfill_fails_only_the_document_a_request_was_refused_for(make_services: Any, aoai_server: Any,
                                                                    azurite: Any, container: ContainerClient) -> None:
    """Requests span documents and run concurrently with the commits; a permanent refusal is
    retried per document, so one bad document fails alone and the others commit whole."""
    from tests.support.aoai_server import content_filter_400
    from tests.support.ingest import azure_ingest_services

    services = azure_ingest_services(make_services, aoai_server, azurite, embedding_batch_max_tokens=2000,
                                     embedding_concurrency=3, ingest_writers=2)

    def refuse_poison(record: Any) -> Any:
        return content_filter_400() if any("POISON" in text for text in record.body["input"]) else None

    aoai_server.script_embeddings(*[refuse_poison] * 200)
    for i in range(10):
        body = markdown_doc(sections=2, paragraphs=3, seed=i)
        upload(container, f"acme/n{i}.md", body.replace("Paragraph 1 ", "POISON paragraph 1 ") if i == 4 else body)
    report = backfill(services, container)
    assert report.outcomes == {"ready": 9, "failed": 1} and not report.errors
    assert report.requests == len(aoai_server.calls("embeddings")) > 2
    rows = {r.blob_path: r for r in ledger.documents(services.db, "acme")}
    assert rows["documents/acme/n4.md"].status == "failed"
    assert (rows["documents/acme/n4.md"].reason or "").startswith("embedding failed")
    with services.db.tenant("acme") as conn:
        stored = dict(conn.execute("SELECT d.blob_path, count(c.id) FROM documents d LEFT JOIN chunks c"
                                   " ON c.document_id = d.id GROUP BY d.blob_path").fetchall())
    assert stored == {path: row.chunk_count for path, row in rows.items()}
    assert stored["documents/acme/n4.md"] == 0 and min(v for k, v in stored.items() if k != "documents/acme/n4.md") > 0
