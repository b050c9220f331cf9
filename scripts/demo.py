"""`make demo`: the whole product on embedded defaults, through the real function handlers.

Starts an embedded PostgreSQL + pgvector and Azurite, uploads the sample documents, runs the
ingest function on each blob, the classify function on each sample ticket and the ask
function on three questions, prints what came back, and stops everything it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from scripts.azurite import Azurite
from scripts.invoke import blob_binding, handler, http_request, service_bus_message
from shared.config import ROOT, load_settings
from shared.db import embedded
from shared.llm import Usage
from shared.runtime import Services, set_services

TENANT = "contoso"
QUESTIONS = (
    "How long is the refund window?",
    "How many failed sign-in attempts lock an account?",
    "What is the API rate limit?",
)


def _rule(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 72 - len(title)))


def upload_samples(connection_string: str, container: str) -> list[str]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    client = service.get_container_client(container)
    if not client.exists():
        client.create_container()
    names = []
    for path in sorted((ROOT / "samples" / "docs").iterdir()):
        name = f"{TENANT}/{path.name}"
        client.upload_blob(name, path.read_bytes(), overwrite=True)
        names.append(name)
    return names


def ingest(services: Services, container: str, names: list[str]) -> None:
    _rule("ingest_document (blob trigger)")
    ingest_document = handler("ingest_document")
    for name in names:
        ingest_document(blob_binding(name, container))
    with services.db.tenant(TENANT) as conn:
        rows = conn.execute(
            "SELECT blob_path, status, chunk_count, token_count FROM documents ORDER BY blob_path"
        ).fetchall()
    for path, status, chunks, tokens in rows:
        print(f"  {path:<48} {status:<10} {chunks:>3} chunks {tokens:>6} tokens")


def classify() -> Usage:
    _rule("classify_ticket (Service Bus trigger)")
    classify_ticket = handler("classify_ticket")
    get_ticket = handler("get_ticket")
    usage = Usage(model="none", calls=0)
    lines = (ROOT / "samples" / "tickets.jsonl").read_text().splitlines()
    for line in lines:
        ticket = json.loads(line)
        label = ticket.pop("label", None)
        classify_ticket(service_bus_message(ticket, tenant=ticket["tenant"]))
        response = asyncio.run(get_ticket(http_request("GET", f"/api/tickets/{ticket['id']}",
                                                      tenant=ticket["tenant"], path_params={"id": ticket["id"]})))
        record = json.loads(bytes(response.body))
        print(json.dumps({"ticket": ticket["id"], "expected": label, **record}, indent=2))
        if record.get("usage"):
            usage = usage + Usage.model_validate(record["usage"])
    return usage


def ask() -> Usage:
    _rule("ask (HTTP POST /api/ask)")
    ask_handler = handler("ask")
    usage = Usage(model="none", calls=0)
    for question in QUESTIONS:
        request = http_request("POST", "/api/ask", tenant=TENANT, body={"question": question})
        response = asyncio.run(ask_handler(request))
        body: dict[str, Any] = json.loads(bytes(response.body))
        print(f"\nQ: {question}\nA: {body.get('answer')}")
        for citation in body.get("citations", []):
            page = f", page {citation['page']}" if citation.get("page") else ""
            print(f"   [{citation['n']}] {citation['blob_path']}{page}")
        if body.get("usage"):
            usage = usage + Usage.model_validate(body["usage"])
    return usage


def main() -> int:
    services: Services | None = None
    data_dir = ROOT / ".data" / "demo"
    azurite = Azurite(data_dir / "azurite").start()
    try:
        # The host passes connection settings through the environment; so does the demo.
        os.environ["DocumentsStorage"] = azurite.connection_string  # noqa: SIM112 - the host's spelling
        settings = load_settings(data_dir=data_dir, allow_tenant_header=True)
        _rule(f"ragworker demo — model provider: {settings.provider}, database: embedded PostgreSQL")
        services = Services.build(settings)
        set_services(services)
        names = upload_samples(azurite.connection_string, settings.documents_container)
        print(f"  uploaded {len(names)} documents to container '{settings.documents_container}'")
        ingest(services, settings.documents_container, names)
        ticket_usage = classify()
        answer_usage = ask()
        _rule("token usage")
        for label, usage in (("classification", ticket_usage), ("answers", answer_usage)):
            print(f"  {label:<15} {usage.calls:>3} calls  {usage.prompt_tokens:>7} prompt + "
                  f"{usage.completion_tokens:>6} completion tokens  ~${usage.cost_usd:.6f} ({usage.model})")
        return 0
    finally:
        set_services(None)
        if services is not None:
            services.close()
        embedded.stop_all()
        azurite.stop()
        print("\nstopped embedded PostgreSQL and Azurite")


if __name__ == "__main__":
    sys.exit(main())

