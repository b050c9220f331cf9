"""The ledger on real parts: exactly-once, overwrite, delete, limits, and nothing partial."""

from __future__ import annotations

import datetime as dt
from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import ContainerClient

from shared.errors import TransientError
from shared.ingestion.service import ingest_blob
from shared.runtime import Services
from tests.support.aoai_server import ScriptedAOAI, server_error
from tests.support.functions import handler
from tests.support.ingest import (
    azure_ingest_services,
    binding_client,
    container,
    markdown_doc,
    recorded_blob_client,
    upload,
)

__all__ = ["container"]


def _state(services: Services, tenant: str, path: str) -> tuple[Any, ...] | None:
    with services.db.tenant(tenant) as conn:
        return conn.execute("SELECT status, attempts, chunk_count, etag, reason FROM documents WHERE blob_path = %s",
                            (path,)).fetchone()


def _chunks(services: Services, tenant: str) -> list[tuple[Any, ...]]:
    with services.db.tenant(tenant) as conn:
        return conn.execute("SELECT id, content_sha256, content FROM chunks ORDER BY ordinal").fetchall()


def test_duplicate_delivery_does_no_work(make_services: Any, aoai_server: ScriptedAOAI, azurite: Any,
                                         container: ContainerClient) -> None:
    services = azure_ingest_services(make_services, aoai_server, azurite)
    upload(container, "acme/manual.md", markdown_doc())
    ingest = handler("ingest_document")
    ingest(binding_client("acme/manual.md"))
    first_calls = len(aoai_server.calls("embeddings"))
    before = _chunks(services, "acme")
    assert first_calls >= 1 and len(before) > 3

    ingest(binding_client("acme/manual.md"))  # the same event delivered again
    upload(container, "acme/manual.md", markdown_doc())  # same bytes uploaded again: new ETag
    result = ingest_blob(services, binding_client("acme/manual.md"))

    assert result.outcome == "unchanged"
    assert len(aoai_server.calls("embeddings")) == first_calls  # no model call
    assert _chunks(services, "acme") == before  # same rows, same ids
    state = _state(services, "acme", "documents/acme/manual.md")
    assert state is not None and state[0] == "ready" and state[1] == 2  # the re-upload was one more attempt


def test_overwrite_re_embeds_only_the_edited_chunks(make_services: Any, aoai_server: ScriptedAOAI, azurite: Any,
                                                    container: ContainerClient) -> None:
    services = azure_ingest_services(make_services, aoai_server, azurite, chunk_target_tokens=200,
                                     chunk_overlap_tokens=25)
    original = markdown_doc(sections=6, paragraphs=8)
    upload(container, "manual.md", original)
    first = ingest_blob(services, binding_client("manual.md"))
    assert first.outcome == "ready" and first.chunks >= 10
    old_ids = {row[0] for row in _chunks(services, "default")}

    target = "Paragraph 5 of the retention section 4"
    assert target in original
    edited = original.replace(target, target + " (revised: retention now also covers mobile devices)")
    upload(container, "manual.md", edited)
    second = ingest_blob(services, binding_client("manual.md"))

    assert second.outcome == "ready"
    assert 1 <= second.embedded <= 2, second
    assert second.reused == second.chunks - second.embedded
    rows = _chunks(services, "default")
    assert not old_ids & {row[0] for row in rows}  # every row replaced, in one transaction
    assert any("revised" in row[2] for row in rows)


def test_failed_overwrite_leaves_the_previous_version_whole(make_services: Any, aoai_server: ScriptedAOAI,
                                                            azurite: Any, container: ContainerClient) -> None:
    services = azure_ingest_services(make_services, aoai_server, azurite)
    upload(container, "manual.md", markdown_doc(seed=0))
    assert ingest_blob(services, binding_client("manual.md")).outcome == "ready"
    before = _chunks(services, "default")

    upload(container, "manual.md", markdown_doc(seed=5))
    aoai_server.script_embeddings(*[server_error(503)] * 3)  # first request fails through every retry
    with pytest.raises(TransientError):
        handler("ingest_document")(binding_client("manual.md"))

    assert _chunks(services, "default") == before
    state = _state(services, "default", "documents/manual.md")
    assert state is not None and state[0] == "processing"  # the platform's retry will finish it
    assert ingest_blob(services, binding_client("manual.md")).outcome == "ready"


def test_delete_event_removes_document_and_chunks(make_services: Any, azurite: Any,
                                                  container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string)
    for name in ("acme/a.md", "acme/b.md"):
        upload(container, name, markdown_doc(sections=2))
        handler("ingest_document")(binding_client(name))
    container.delete_blob("acme/a.md")
    event = func.EventGridEvent(
        id="1", topic="/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
        subject="/blobServices/default/containers/documents/blobs/acme/a.md",
        event_type="Microsoft.Storage.BlobDeleted", event_time=dt.datetime.now(dt.UTC), data_version="1",
        data={"api": "DeleteBlob", "url": "http://127.0.0.1/devstoreaccount1/documents/acme/a.md",
              "blobType": "BlockBlob"})
    handler("delete_document")(event)
    assert _state(services, "acme", "documents/acme/a.md") is None
    with services.db.tenant("acme") as conn:
        paths = conn.execute("SELECT DISTINCT d.blob_path FROM chunks c JOIN documents d ON d.id = c.document_id"
                             ).fetchall()
    assert paths == [("documents/acme/b.md",)]

    # A late BlobDeleted for a blob that exists again keeps the document.
    late = func.EventGridEvent(id="2", topic=event.topic, subject=event.subject.replace("a.md", "b.md"),
                               event_type=event.event_type, event_time=event.event_time, data_version="1",
                               data={"api": "DeleteBlob", "url": "http://x/documents/acme/b.md"})
    handler("delete_document")(late)
    assert _state(services, "acme", "documents/acme/b.md") is not None


def test_too_large_blob_is_recorded_and_not_downloaded(make_services: Any, azurite: Any,
                                                       container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string, max_blob_bytes=1000)
    upload(container, "big.md", "word " * 1000)
    blob, requests = recorded_blob_client(azurite, "big.md")
    result = ingest_blob(services, blob)
    assert result.outcome == "too_large"
    assert [method for method, _ in requests.requests] == ["HEAD"]  # properties only, no GET of the body
    state = _state(services, "default", "documents/big.md")
    assert state is not None and state[0] == "too_large" and "MAX_BLOB_BYTES" in state[4]


def test_tenant_from_metadata_and_tenant_move(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string)
    upload(container, "shared/faq.md", markdown_doc(sections=1), tenant="globex")
    assert ingest_blob(services, binding_client("shared/faq.md")).tenant == "globex"
    upload(container, "shared/faq.md", markdown_doc(sections=1), tenant="initech")
    assert ingest_blob(services, binding_client("shared/faq.md")).tenant == "initech"
    assert _state(services, "globex", "documents/shared/faq.md") is None
    assert _chunks(services, "globex") == []
    assert _state(services, "initech", "documents/shared/faq.md") is not None


def test_invalid_tenant_is_rejected_without_rows(make_services: Any, azurite: Any,
                                                 container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string)
    upload(container, "notes.md", "# Notes\n\nhello", tenant="bad tenant!")
    result = ingest_blob(services, binding_client("notes.md"))
    assert result.outcome == "rejected"
    with services.db.unscoped() as conn:
        assert conn.execute("SELECT count(*) FROM ingestion_blobs").fetchone() == (0,)


def test_wiring_blob_trigger_with_event_grid_source_and_delete_event() -> None:
    from tests.support.functions import bindings

    (trigger,) = bindings("ingest_document")
    assert trigger["type"] == "blobTrigger" and trigger["source"] == "EventGrid"
    assert trigger["path"] == "documents/{name}" and trigger["connection"] == "DocumentsStorage"
    (event,) = bindings("delete_document")
    assert event["type"] == "eventGridTrigger"


def test_unit_of_work_is_one_span_with_hashed_tenant(make_services: Any, azurite: Any,
                                                     container: ContainerClient) -> None:
    import json

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from shared.telemetry import hash_tenant, set_tracer

    services = make_services(documents_storage=azurite.connection_string)
    upload(container, "contoso/guide.md", markdown_doc(sections=2))
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    set_tracer(provider.get_tracer("test"))
    try:
        ingest_blob(services, binding_client("contoso/guide.md"))
    finally:
        set_tracer(None)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "ingestion.ingest_blob"]
    attributes = dict(span.attributes or {})
    assert attributes["ragworker.tenant_hash"] == hash_tenant("contoso")
    assert "contoso" not in json.dumps(attributes) and attributes["ragworker.document"] == "guide.md"
    assert attributes["ragworker.outcome"] == "ready" and attributes["ragworker.model"] == "offline"
    assert int(attributes["ragworker.chunks"]) >= 1 and int(attributes["ragworker.tokens"]) > 0


def test_body_is_read_in_bounded_ranges_with_the_checked_etag(make_services: Any, azurite: Any,
                                                              container: ContainerClient) -> None:
    import hashlib

    from shared.ingestion.source import download, properties

    data = ("lorem ipsum dolor sit amet " * 12_000).encode()  # ~320 KB
    upload(container, "big.txt", data)
    blob, requests = recorded_blob_client(azurite, "big.txt")
    info = properties(blob)
    assert info is not None
    body, digest = download(blob, info, max_bytes=10**7, spool_bytes=65536, range_bytes=64 * 1024)
    with body:
        assert body.read() == data and digest == hashlib.sha256(data).hexdigest()
    gets = [url for method, url in requests.requests if method == "GET"]
    assert len(gets) == -(-len(data) // (64 * 1024))

    upload(container, "big.txt", data + b"changed")  # overwritten after the properties were read
    with pytest.raises(TransientError):
        download(blob, info, max_bytes=10**7, spool_bytes=65536, range_bytes=64 * 1024)
