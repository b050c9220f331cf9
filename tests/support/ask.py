"""Calling /api/ask through the real handler, and reading its JSON or server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import numpy as np

from shared.llm.offline.embedder import HashingEmbedder
from tests.support.aoai_replies import embedding_inputs
from tests.support.aoai_server import RecordedRequest, Reply, ScriptedAOAI, embeddings_vectors
from tests.support.functions import handler, http_request


def post(body: Any = None, *, tenant: str = "acme", raw_body: bytes | None = None,
         headers: dict[str, str] | None = None) -> Any:
    """The handler's response object (JSONResponse or StreamingResponse)."""
    request = http_request("POST", "/api/ask", body=body, raw_body=raw_body, headers=headers, tenant=tenant)
    return asyncio.run(handler("ask")(request))


def ask(question: str, *, tenant: str = "acme", **fields: Any) -> tuple[int, dict[str, Any]]:
    response = post({"question": question, **fields}, tenant=tenant)
    return response.status_code, json.loads(bytes(response.body))


def read_events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a streamed answer, in order."""

    async def collect() -> str:
        parts = []
        async for chunk in response.body_iterator:
            parts.append(chunk if isinstance(chunk, str) else chunk.decode())
        return "".join(parts)

    events = []
    for frame in asyncio.run(collect()).split("\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def hashing_embeddings(server: ScriptedAOAI, dimensions: int = 1536, count: int = 60) -> None:
    """Serve embeddings from the offline hashing embedder, so related texts are near each other."""
    embedder = HashingEmbedder(dimensions)

    def reply(record: RecordedRequest) -> Reply:
        vectors = embedder.embed(embedding_inputs(record.body))
        return embeddings_vectors(np.asarray(vectors).tolist()).render(record, lambda r: Reply())

    server.script_embeddings(*[reply] * count)


def chat_messages(server: ScriptedAOAI) -> Iterator[list[dict[str, Any]]]:
    """The messages of every chat request the server received."""
    for call in server.calls("chat"):
        yield list(call.body["messages"])
