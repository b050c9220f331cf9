"""The interface every model provider implements."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from shared.llm.types import ChatResult, EmbeddingResult, Message, Parsed, Role, StreamEvent, T


class ModelClient(Protocol):
    """Embeddings, chat (plain and streamed) and structured output, each reporting usage."""

    provider: str

    def model_for(self, role: Role) -> str:
        """The model (or Azure deployment) name used for ``role``."""
        ...

    def embed(self, texts: Sequence[str]) -> EmbeddingResult: ...

    def chat(
        self,
        messages: Sequence[Message],
        *,
        role: Role = "chat",
        tools: Sequence[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult: ...

    def stream_chat(
        self, messages: Sequence[Message], *, role: Role = "chat", max_tokens: int | None = None
    ) -> Iterator[StreamEvent]: ...

    def parse(self, messages: Sequence[Message], schema: type[T], *, role: Role = "classification") -> Parsed[T]: ...

    def ping(self) -> str:
        """Cheap reachability check; returns a short description or raises TransientError."""
        ...
