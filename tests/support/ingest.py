"""Helpers for the ingestion tests: generated documents and real blob clients on Azurite.

No tests here; the ``test_ingest_*`` modules import from it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient

from scripts.azurite import Azurite
from scripts.invoke import blob_binding

CONTAINER = "documents"


@pytest.fixture
def container(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContainerClient]:
    """A fresh ``documents`` container; DocumentsStorage points at Azurite as in local.settings.json."""
    monkeypatch.setenv("DocumentsStorage", azurite.connection_string)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = service.get_container_client(CONTAINER)
    if client.exists():
        client.delete_container()
    client.create_container()
    yield client
    client.delete_container()


def upload(container: ContainerClient, name: str, data: bytes | str, **metadata: str) -> BlobClient:
    blob = container.get_blob_client(name)
    blob.upload_blob(data.encode() if isinstance(data, str) else data, overwrite=True, metadata=metadata or None)
    return blob


def binding_client(name: str, container: str = CONTAINER) -> Any:
    """The BlobClient the Functions host would inject (the SDK-type binding's own converter)."""
    return blob_binding(name, container)


def markdown_doc(sections: int = 12, paragraphs: int = 4, seed: int = 0) -> str:
    """A manual with headings and distinct paragraphs (~70 tokens each)."""
    topics = ["backup", "restore", "billing", "devices", "retention", "encryption", "alerts", "reports",
              "accounts", "sharing", "quotas", "audit", "sync", "mobile", "exports", "keys"]
    out = ["# Lumora Operations Manual", ""]
    for s in range(sections):
        topic = topics[(s + seed) % len(topics)]
        out += [f"## {topic.title()} section {s}", ""]
        for p in range(paragraphs):
            out.append(
                f"Paragraph {p} of the {topic} section {s} explains how administrators configure {topic} "
                f"policies for workspace {s * 10 + p}. Each policy names a schedule, an owner and a retention "
                f"period of {p + 3} days. Changes apply to every device within fifteen minutes, and the audit "
                f"log records who changed the {topic} policy and when.")
            out.append("")
    return "\n".join(out)


def pdf_bytes(pages: list[str]) -> bytes:
    """A minimal valid PDF (Helvetica text, one content stream per page), written by hand."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for text in pages:
        lines = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in text.split("\n")]
        ops = "BT /F1 11 Tf 14 TL 72 760 Td " + " ".join(f"({ln}) Tj T*" for ln in lines) + " ET"
        stream = zlib.compress(ops.encode("latin-1"))
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
                       % content_id)
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Restore Guide", level=0)
    document.add_heading("Preparing a restore", level=1)
    document.add_paragraph("Before restoring, pause the sync client so that restored files are not overwritten.")
    document.add_heading("Restore limits", level=2)
    table = document.add_table(rows=3, cols=2)
    for row, (plan, limit) in zip(table.rows, [("Plan", "Restores per day"), ("Basic", "5"), ("Pro", "50")],
                                  strict=True):
        row.cells[0].text, row.cells[1].text = plan, limit
    document.add_paragraph("Restores larger than 200 GB are shipped on an encrypted drive.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


HTML = """<!doctype html><html><head><title>Sync Client Help</title><style>p {color: red}</style>
<script>var secret = "do not index";</script></head>
<body><nav><a href="/">Home</a></nav>
<h1>Troubleshooting sync</h1><p>If the sync client shows <b>error 409</b>, sign out and sign in again.</p>
<div hidden>Hidden promo text</div>
<h2>Proxy settings</h2><p>Corporate proxies must allow api.lumora.example on port 443.</p>
<table><tr><th>Code</th><th>Meaning</th></tr><tr><td>409</td><td>Conflict</td></tr></table>
<pre><code>lumora-sync --reset --verbose</code></pre>
<!-- a comment that must not be indexed -->
</body></html>"""


def azure_ingest_services(make_services: Any, aoai_server: Any, azurite: Azurite, **overrides: Any) -> Any:
    """Azure OpenAI provider on the scripted server, documents on Azurite."""
    values: dict[str, Any] = {
        "model_provider": "azure", "azure_openai_endpoint": aoai_server.url, "azure_openai_api_key": "test-key",
        "model_max_retries": 2, "model_timeout_seconds": 10, "documents_storage": azurite.connection_string,
    }
    values.update(overrides)
    return make_services(**values)


class RequestLog:
    """Records (method, url) of every storage request, through the SDK's ``raw_request_hook``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: Any) -> None:
        self.requests.append((request.http_request.method, request.http_request.url))


def recorded_blob_client(azurite: Azurite, name: str) -> tuple[BlobClient, RequestLog]:
    log = RequestLog()
    blob = BlobClient.from_connection_string(azurite.connection_string, CONTAINER, name, raw_request_hook=log)
    return blob, log
