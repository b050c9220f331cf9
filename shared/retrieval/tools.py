"""Tools the answering model may call, each run inside the caller's tenant scope.

Arguments come from the model, so they are validated like any other untrusted input and only
ever reach SQL as bound parameters. A bad call is answered with an error the model can read,
not raised: the answer can still be produced from what was already retrieved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.db.database import Conn
from shared.llm import grounding
from shared.llm.types import ToolCall, Usage
from shared.retrieval.context import ContextBlock
from shared.retrieval.models import Filters

TICKET_ID = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}"
_TICKET_REF = re.compile(r"\b[A-Za-z]{0,12}-?\d[\w.-]{0,40}\b")

TOOL_SPECS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "search_documents",
        "description": "Search the company's documents again, e.g. with other words or in one document.",
        "parameters": {"type": "object", "additionalProperties": False, "required": ["query"], "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "filters": {"type": "object", "additionalProperties": False, "properties": {
                "document": {"type": "string", "description": "File name or blob path of one document."},
                "path_prefix": {"type": "string", "description": "Only documents under this path."}}}}}}},
    {"type": "function", "function": {
        "name": "get_ticket",
        "description": "Read a classified support ticket (category, priority, summary, actions) by its id.",
        "parameters": {"type": "object", "additionalProperties": False, "required": ["ticket_id"],
                       "properties": {"ticket_id": {"type": "string"}}}}},
]


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    filters: Filters = Field(default_factory=Filters)


class TicketArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(pattern=f"^{TICKET_ID}$")


#: (query, filters, first block number) -> (new blocks, usage of the embedding call)
SearchFn = Callable[[str, Filters, int], tuple[list[ContextBlock], Usage | None]]
#: (callback run on a tenant-scoped connection) -> its result
ScopedFn = Callable[[Callable[[Conn], Any]], Any]


class ToolRunner:
    """Runs tool calls for one answer; collects the blocks they add so citations can name them."""

    def __init__(self, *, search: SearchFn, scoped: ScopedFn, first_n: int) -> None:
        self._search = search
        self._scoped = scoped
        self.next_n = first_n
        self.blocks: list[ContextBlock] = []
        self.usage: Usage | None = None
        self.calls = 0

    def run(self, call: ToolCall) -> str:
        """The tool message content for ``call``."""
        self.calls += 1
        try:
            args = json.loads(call.arguments or "{}")
            if call.name == "search_documents":
                return self._search_documents(SearchArgs.model_validate(args))
            if call.name == "get_ticket":
                return self._get_ticket(TicketArgs.model_validate(args))
        except (ValidationError, ValueError) as exc:
            return json.dumps({"error": f"invalid arguments for {call.name}: {exc}"[:500]})
        return json.dumps({"error": f"unknown tool {call.name!r}"})

    def _search_documents(self, args: SearchArgs) -> str:
        blocks, usage = self._search(args.query, args.filters, self.next_n)
        if usage is not None:
            self.usage = usage if self.usage is None else self.usage + usage
        if not blocks:
            return json.dumps({"result": "no passages matched"})
        self.blocks.extend(blocks)
        self.next_n = blocks[-1].n + 1
        return f"{grounding.CONTEXT_OPEN}\n{''.join(b.text for b in blocks)}{grounding.CONTEXT_CLOSE}"

    def _get_ticket(self, args: TicketArgs) -> str:
        found = self._scoped(lambda conn: get_ticket(conn, args.ticket_id))
        if found is None:
            return json.dumps({"error": f"no ticket {args.ticket_id!r}"})
        return json.dumps(found, default=str)


def get_ticket(conn: Conn, ticket_id: str) -> dict[str, Any] | None:
    """The latest analysis of ``ticket_id`` visible to the connection's tenant."""
    from shared.classification.store import get_analysis  # deferred: answering rarely needs it

    return get_analysis(conn, ticket_id)


def mentioned_tickets(conn: Conn, question: str) -> list[str]:
    """Ticket ids named in the question that exist for this tenant (they make tools worth offering)."""
    candidates = list(dict.fromkeys(_TICKET_REF.findall(question)))[:10]
    if not candidates:
        return []
    rows = conn.execute("SELECT DISTINCT ticket_id FROM ticket_outcomes WHERE ticket_id = ANY(%s)",
                        (candidates,)).fetchall()
    return [str(r[0]) for r in rows]
