"""The ask API's request and response shapes, validated at the HTTP boundary.

Static limits live here; limits that are settings (question length, history tokens, top_k)
are checked by :func:`shared.retrieval.answer.check_limits` so they answer 413 rather than 400.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HistoryTurn(BaseModel):
    """One earlier turn of the conversation, replayed to the model before the grounded question."""

    model_config = _STRICT

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1)  # bounded by MAX_HISTORY_TOKENS (413)


class Filters(BaseModel):
    """Restrict retrieval to one document (blob path or file name) and/or a blob path prefix."""

    model_config = _STRICT

    document: str | None = Field(None, min_length=1, max_length=1024)
    path_prefix: str | None = Field(None, min_length=1, max_length=1024)


class AskRequest(BaseModel):
    """``POST /api/ask`` body."""

    model_config = _STRICT

    question: str = Field(min_length=1)  # length limit is MAX_QUESTION_CHARS (413), body size bounds it
    history: list[HistoryTurn] = Field(default_factory=list, max_length=50)
    top_k: int | None = Field(None, ge=1, le=50)
    filters: Filters = Field(default_factory=Filters)
    stream: bool = False


class Citation(BaseModel):
    """A context block the answer cites, with everything a client needs to show the source."""

    model_config = ConfigDict(extra="forbid")

    n: int
    document: str
    page: int | None
    blob_path: str
    chunk_id: int


class AnswerUsage(BaseModel):
    """Tokens and estimated cost of every model call made for one answer (embedding included)."""

    model_config = ConfigDict(extra="forbid")

    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    calls: int


class AskResponse(BaseModel):
    """The grounded answer; ``removed_citations`` lists markers that pointed at nothing retrieved."""

    model_config = ConfigDict(extra="forbid")

    answer: str
    citations: list[Citation]
    removed_citations: list[int] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    grounded: bool
    content_filtered: bool = False
    tool_calls: int = 0
    prompt_version: str
    usage: AnswerUsage
