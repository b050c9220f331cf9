"""The answering service: retrieve within the tenant, ground the prompt, answer, check citations.

When no chunk passes the relevance floor (and no ticket the question names exists) the answer
is :data:`~shared.llm.grounding.NO_ANSWER` without calling the chat model: a model given
nothing relevant can only invent, and the call would cost money to say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared.db.database import Conn
from shared.errors import ConfigurationError, InputTooLargeError, InvalidInputError
from shared.llm import grounding
from shared.llm.types import Message, Usage
from shared.retrieval import citations
from shared.retrieval.context import ContextBlock, pack
from shared.retrieval.models import AnswerUsage, AskRequest, AskResponse, Filters
from shared.retrieval.search import configure_session, document_ids, hybrid_search
from shared.retrieval.tools import TOOL_SPECS, ToolRunner, mentioned_tickets
from shared.runtime import Services
from shared.telemetry import set_attributes, span
from shared.tokens import count_text

PROMPTS = Path(__file__).resolve().parent.parent / "prompts" / "answer"


@lru_cache(maxsize=8)
def system_prompt(version: str) -> str:
    """The versioned system prompt file (ANSWER_PROMPT_VERSION)."""
    path = PROMPTS / f"{version}.md"
    if not path.is_file():
        raise ConfigurationError(f"ANSWER_PROMPT_VERSION: no prompt file {version}.md")
    return path.read_text("utf-8").strip()


def check_limits(request: AskRequest, services: Services) -> None:
    """Limits that are settings; checked before any model call."""
    settings = services.settings
    if len(request.question) > settings.max_question_chars:
        raise InputTooLargeError(f"the question is longer than {settings.max_question_chars} characters")
    model = services.model.model_for("chat")
    history = sum(count_text(turn.content, model) for turn in request.history)
    if history > settings.max_history_tokens:
        raise InputTooLargeError(f"the history is {history} tokens; the limit is {settings.max_history_tokens}")
    if request.top_k is not None and request.top_k > settings.max_top_k:
        raise InvalidInputError(f"top_k must be between 1 and {settings.max_top_k}")


def relevance_floor(services: Services) -> float:
    """The floor for the configured embedding model: cosine scales differ between models."""
    settings = services.settings
    return settings.relevance_floors.get(services.model.model_for("embeddings"), settings.relevance_floor)


@dataclass
class Grounding:
    """Everything decided before the chat model is called."""

    tenant_id: str
    request: AskRequest
    messages: list[Message]
    blocks: list[ContextBlock]
    usage: Usage
    tickets: list[str] = field(default_factory=list)


class Answerer:
    """One instance per request; holds the services it was given."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.chat_model = services.model.model_for("chat")

    def retrieve(self, tenant_id: str, query: str, filters: Filters, *, top_k: int,
                 first_n: int = 1, exclude: frozenset[int] = frozenset(),
                 look_for_tickets: bool = False) -> tuple[list[ContextBlock], Usage, list[str]]:
        """Embed ``query``, search inside the tenant, pack what passes the floor into blocks."""
        embedded = self.services.model.embed([query])
        with span("retrieve", tenant=tenant_id) as current, self.services.db.tenant(tenant_id) as conn:
            configure_session(conn, self.settings)
            hits = hybrid_search(
                conn, tenant_id=tenant_id, vector=embedded.vectors[0], question=query, top_k=top_k,
                candidates=max(self.settings.retrieval_candidates, top_k), rrf_k=self.settings.rrf_k,
                floor=relevance_floor(self.services), doc_ids=document_ids(conn, filters),
            )
            tickets = mentioned_tickets(conn, query) if look_for_tickets and not hits else []
            set_attributes(current, chunks=len(hits), tokens=embedded.usage.total_tokens,
                           cost_usd=embedded.usage.cost_usd, model=embedded.usage.model)
        fresh = [h for h in hits if h.chunk_id not in exclude]
        blocks = pack(fresh, budget=self.settings.context_token_budget, model=self.chat_model, first_n=first_n)
        return blocks, embedded.usage, tickets

    def ground(self, tenant_id: str, request: AskRequest, *, tools: bool) -> Grounding:
        check_limits(request, self.services)
        top_k = request.top_k or self.settings.retrieval_top_k
        blocks, usage, tickets = self.retrieve(tenant_id, request.question, request.filters, top_k=top_k,
                                               look_for_tickets=tools and self.settings.max_tool_rounds > 0)
        messages: list[Message] = [{"role": "system", "content": system_prompt(self.settings.answer_prompt_version)}]
        messages += [{"role": t.role, "content": t.content} for t in request.history]
        messages.append({"role": "user", "content": grounding.user_message([b.text for b in blocks],
                                                                           request.question)})
        return Grounding(tenant_id, request, messages, blocks, usage, tickets)

    def answer(self, tenant_id: str, request: AskRequest) -> AskResponse:
        """The complete answer (tool calls included), citations checked; one span per answer."""
        with span("answer", tenant=tenant_id) as current:
            response = self._answer(tenant_id, request)
            record(current, response)
            return response

    def _answer(self, tenant_id: str, request: AskRequest) -> AskResponse:
        g = self.ground(tenant_id, request, tools=True)
        if not g.blocks and not g.tickets:
            return self.no_answer(g)
        runner = self._runner(g)
        usage, rounds, limit = g.usage, 0, self.settings.max_tool_rounds
        while True:
            offer = TOOL_SPECS if rounds < limit else None
            result = self.services.model.chat(g.messages, tools=offer, max_tokens=self.settings.answer_max_tokens)
            usage += result.usage
            if not result.tool_calls or offer is None:
                break
            rounds += 1
            g.messages.append({"role": "assistant", "content": result.text or None, "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in result.tool_calls]})
            g.messages += [{"role": "tool", "tool_call_id": c.id, "content": runner.run(c)}
                           for c in result.tool_calls]
        if runner.usage is not None:
            usage += runner.usage
        return self.finish(g, result.text, result.finish_reason, usage, g.blocks + runner.blocks, runner.calls)

    def _runner(self, g: Grounding) -> ToolRunner:
        def search(query: str, filters: Filters, first_n: int) -> tuple[list[ContextBlock], Usage | None]:
            given = frozenset(b.hit.chunk_id for b in g.blocks + runner.blocks)
            blocks, usage, _ = self.retrieve(g.tenant_id, query, filters, top_k=self.settings.retrieval_top_k,
                                             first_n=first_n, exclude=given)
            return blocks, usage

        def scoped(work: Callable[[Conn], Any]) -> Any:
            with self.services.db.tenant(g.tenant_id) as conn:
                return work(conn)

        runner = ToolRunner(search=search, scoped=scoped, first_n=len(g.blocks) + 1)
        return runner

    def no_answer(self, g: Grounding) -> AskResponse:
        return self.finish(g, grounding.NO_ANSWER, "stop", g.usage, [], 0)

    def finish(self, g: Grounding, text: str, finish_reason: str, usage: Usage,
               blocks: list[ContextBlock], tool_calls: int) -> AskResponse:
        """Check citations, flag a filtered answer, total the usage."""
        checked = citations.check(text.strip(), blocks)
        notes = [f"removed citation [{n}]: it points at nothing that was retrieved" for n in checked.removed]
        filtered = finish_reason == "content_filter"
        if filtered:
            notes.append("the answer was cut short by the content filter; what was produced is returned")
        return AskResponse(
            answer=checked.text if checked.text or filtered else grounding.NO_ANSWER,
            citations=checked.citations, removed_citations=checked.removed,
            notes=notes, grounded=bool(checked.citations), content_filtered=filtered, tool_calls=tool_calls,
            prompt_version=self.settings.answer_prompt_version,
            usage=AnswerUsage(model=usage.model, prompt_tokens=usage.prompt_tokens,
                              completion_tokens=usage.completion_tokens, total_tokens=usage.total_tokens,
                              cost_usd=usage.cost_usd, calls=usage.calls),
        )


def record(current: Any, response: AskResponse) -> None:
    """Span attributes of a finished answer (the tenant is hashed by the telemetry module)."""
    outcome = ("content_filtered" if response.content_filtered else "answered" if response.grounded
               else "no_answer")
    set_attributes(current, chunks=len(response.citations), tokens=response.usage.total_tokens,
                   cost_usd=response.usage.cost_usd, model=response.usage.model, outcome=outcome,
                   tool_calls=response.tool_calls, removed_citations=len(response.removed_citations))


def answer(services: Services, tenant_id: str, request: AskRequest) -> AskResponse:
    """Entry point for the HTTP handler and the CLI."""
    return Answerer(services).answer(tenant_id, request)
