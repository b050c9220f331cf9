"""Server-sent events for ``stream: true``: ``token`` events, then one ``done`` event.

``done`` carries the checked answer, citations and usage; a marker removed by the citation
check was already streamed, so ``done`` says which ones were removed. Retrieval and the first
model event happen before the response starts, so a filtered or rejected prompt still gets a
proper 4xx problem; only failures after the first token arrive as an ``error`` event.
Streamed answers use the retrieved context only (the streaming interface carries no tools).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

from shared.errors import PermanentError, TransientError
from shared.llm import grounding
from shared.llm.types import StreamEvent
from shared.problems import from_error, problem
from shared.retrieval.answer import Answerer, Grounding, record
from shared.retrieval.models import AskRequest
from shared.runtime import Services
from shared.telemetry import span

log = logging.getLogger(__name__)
MEDIA_TYPE = "text/event-stream"


def sse(event: str, data: Any) -> str:
    """One server-sent event; JSON keeps newlines in the data on one ``data:`` line."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def open_stream(services: Services, tenant_id: str, request: AskRequest) -> Iterator[str]:
    """Ground the question and start the model; errors up to its first event raise here."""
    answerer = Answerer(services)
    g = answerer.ground(tenant_id, request, tools=False)
    if not g.blocks:
        response = answerer.no_answer(g)
        return iter([sse("token", {"text": response.answer}), sse("done", response.model_dump(mode="json"))])
    events = services.model.stream_chat(g.messages, max_tokens=services.settings.answer_max_tokens)
    first = next(events)
    return _relay(answerer, g, itertools.chain([first], events))


def _relay(answerer: Answerer, g: Grounding, events: Iterator[StreamEvent]) -> Iterator[str]:
    parts: list[str] = []
    finish, usage = "stop", g.usage
    try:
        for event in events:
            if event.kind == "delta" and event.text:
                parts.append(event.text)
                yield sse("token", {"text": event.text})
            elif event.kind == "end":
                finish = event.finish_reason or finish
                usage = usage + event.usage if event.usage is not None else usage
    except PermanentError as exc:
        yield sse("error", from_error(exc) | {"partial": "".join(parts)})
        return
    except TransientError as exc:
        log.warning("answer stream interrupted: %s", exc)
        yield sse("error", problem(503, "Model unavailable", str(exc), exc.code, partial="".join(parts)))
        return
    text = "".join(parts).strip() or (grounding.NO_ANSWER if finish != "content_filter" else "")
    response = answerer.finish(g, text, finish, usage, g.blocks, 0)
    with span("answer_stream", tenant=g.tenant_id) as current:
        record(current, response)
    yield sse("done", response.model_dump(mode="json"))


