"""Every supported format through the real trigger handler, on Azurite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from azure.storage.blob import ContainerClient

from shared.runtime import Services
from tests.support.functions import handler
from tests.support.ingest import (
    HTML,
    binding_client,
    container,
    docx_bytes,
    pdf_bytes,
    upload,
)

__all__ = ["container"]


def _ingest(services: Services, blob: ContainerClient, name: str, data: bytes | str) -> None:
    upload(blob, name, data)
    handler("ingest_document")(binding_client(name))


def _doc(services: Services, tenant: str, path: str) -> dict[str, Any]:
    with services.db.tenant(tenant) as conn:
        row = conn.execute("SELECT status, reason, chunk_count, token_count, embedding_model, embedding_dimensions"
                           " FROM documents WHERE blob_path = %s", (path,)).fetchone()
        chunks = conn.execute("SELECT c.content, c.heading_path, c.page, c.char_start, c.char_end, c.token_count"
                              " FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.blob_path = %s"
                              " ORDER BY ordinal",
                              (path,)).fetchall()
    assert row is not None, f"no ledger row for {path}"
    keys = ("status", "reason", "chunk_count", "token_count", "model", "dimensions")
    return {**dict(zip(keys, row, strict=True)), "chunks": chunks}


def _ingest_services(make_services: Any, azurite: Any) -> Services:
    services: Services = make_services(documents_storage=azurite.connection_string)
    return services


def test_markdown_keeps_headings_code_and_tenant_from_path(make_services: Any, azurite: Any,
                                                          container: ContainerClient) -> None:
    services = _ingest_services(make_services, azurite)
    text = ("# Guide\n\nIntro paragraph.\n\n## Install\n\nRun the installer.\n\n```bash\nlumora install --yes\n```\n\n"
            "## Limits\n\n| Plan | Devices |\n|---|---|\n| Basic | 3 |\n")
    _ingest(services, container, "acme/guide.md", text)
    doc = _doc(services, "acme", "documents/acme/guide.md")
    assert doc["status"] == "ready" and doc["model"] == "offline" and doc["dimensions"] == 1536
    joined = "\n".join(c[0] for c in doc["chunks"])
    assert "lumora install --yes" in joined and "| Basic | 3 |" in joined
    assert doc["chunks"][0][1] == ["Guide"]
    with services.db.tenant("default") as conn:  # RLS: another tenant sees nothing
        assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (0,)


def test_text_in_legacy_encoding_is_decoded(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = _ingest_services(make_services, azurite)
    text = ("Les données de sauvegarde sont conservées pendant trente jours. Après cette période, "
            "le système supprime automatiquement les copies les plus anciennes. Vérifiez les paramètres "
            "de rétention dans la console d'administration avant de réduire la durée.\n\n"
            "Deuxième paragraphe: la facturation mensuelle inclut toutes les données stockées.")
    _ingest(services, container, "notes.txt", text.encode("cp1252"))
    doc = _doc(services, "default", "documents/notes.txt")
    assert doc["status"] == "ready"
    assert "données" in doc["chunks"][0][0] and "rétention" in doc["chunks"][0][0]


def test_html_visible_text_title_and_headings(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = _ingest_services(make_services, azurite)
    _ingest(services, container, "help/sync.html", HTML)
    doc = _doc(services, "help", "documents/help/sync.html")
    text = "\n".join(c[0] for c in doc["chunks"])
    assert "error 409" in text and "port 443" in text and "409 | Conflict" in text and "lumora-sync --reset" in text
    for invisible in ("secret", "Hidden promo", "comment", "color: red"):
        assert invisible not in text
    assert doc["chunks"][0][1][0] == "Sync Client Help"
    assert any("Proxy settings" in (c[1] or []) for c in doc["chunks"]) or "Proxy settings" in text


def test_pdf_chunks_keep_page_numbers(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = _ingest_services(make_services, azurite)
    pages = ["Backup schedules run nightly at 02:00 UTC.\nEach run keeps thirty daily versions.",
             "Restores are requested from the admin console.\nLarge restores ship on an encrypted drive."]
    _ingest(services, container, "manual.pdf", pdf_bytes(pages))
    doc = _doc(services, "default", "documents/manual.pdf")
    assert doc["status"] == "ready", doc["reason"]
    by_page = {c[2]: c[0] for c in doc["chunks"]}
    assert set(by_page) == {1, 2}
    assert "nightly" in by_page[1] and "encrypted drive" in by_page[2]


def test_docx_headings_and_tables(make_services: Any, azurite: Any, container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string, chunk_target_tokens=50,
                             chunk_overlap_tokens=5)
    _ingest(services, container, "acme/restore.docx", docx_bytes())
    doc = _doc(services, "acme", "documents/acme/restore.docx")
    assert doc["status"] == "ready", doc["reason"]
    text = "\n".join(c[0] for c in doc["chunks"])
    assert "Pro | 50" in text and "encrypted drive" in text
    paths = [c[1] for c in doc["chunks"]]
    assert ["Restore Guide", "Preparing a restore"] in paths
    assert ["Restore Guide", "Preparing a restore", "Restore limits"] in paths


def test_unsupported_format_is_recorded_without_download(make_services: Any, azurite: Any,
                                                        container: ContainerClient) -> None:
    services = _ingest_services(make_services, azurite)
    _ingest(services, container, "logo.png", b"\x89PNG\r\n\x1a\n" + bytes(100))
    doc = _doc(services, "default", "documents/logo.png")
    assert doc["status"] == "unsupported" and doc["chunks"] == []


def test_corrupt_pdf_is_failed_with_reason_and_no_rows(make_services: Any, azurite: Any,
                                                      container: ContainerClient) -> None:
    services = _ingest_services(make_services, azurite)
    _ingest(services, container, "broken.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\ngarbage")
    doc = _doc(services, "default", "documents/broken.pdf")
    assert doc["status"] == "failed" and doc["chunks"] == [] and doc["chunk_count"] == 0
    assert "pypdf" in (doc["reason"] or "") or "PDF" in (doc["reason"] or "")
