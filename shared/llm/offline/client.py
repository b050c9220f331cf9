"""The offline provider behind the same interface as the real ones."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from shared.errors import ModelRequestError, SchemaViolationError
from shared.llm.offline.answerer import answer
from shared.llm.offline.classifier import OfflineClassifier
from shared.llm.offline.embedder import HashingEmbedder
from shared.llm.types import ChatResult, EmbeddingResult, Message, Parsed, Role, StreamEvent, T, Usage
from shared.tokens import count_text, count_tokens

MODEL_NAME = "offline"
_COUNTING_MODEL = "gpt-4o"  # only used to report token counts comparable with the real models


class OfflineModelClient:
    """Deterministic, instant, free: embeddings by hashing, extractive answers, k-NN labels."""

    provider = "offline"

    def __init__(self, dimensions: int) -> None:
        self.embedder = HashingEmbedder(dimensions)
        self._classifier = OfflineClassifier(self.embedder)

    def model_for(self, role: Role) -> str:
        return MODEL_NAME

    def embed(self, texts: Sequence[str]) -> EmbeddingResult:
        vectors = self.embedder.embed(list(texts))
        tokens = sum(count_text(t, "text-embedding-3-small") for t in texts)
        return EmbeddingResult(vectors=vectors.tolist(), usage=Usage(model=MODEL_NAME, prompt_tokens=tokens))

    def _usage(self, messages: Sequence[Message], text: str) -> Usage:
        return Usage(model=MODEL_NAME, prompt_tokens=count_tokens(messages, _COUNTING_MODEL),
                     completion_tokens=count_text(text, _COUNTING_MODEL))

    def chat(
        self,
        messages: Sequence[Message],
        *,
        role: Role = "chat",
        tools: Sequence[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        text = answer(messages)
        return ChatResult(text=text, finish_reason="stop", usage=self._usage(messages, text))

    def stream_chat(
        self, messages: Sequence[Message], *, role: Role = "chat", max_tokens: int | None = None
    ) -> Iterator[StreamEvent]:
        result = self.chat(messages, role=role)
        for word in result.text.split(" "):
            yield StreamEvent(kind="delta", text=word + " ")
        yield StreamEvent(kind="end", finish_reason="stop", usage=result.usage)

    def parse(self, messages: Sequence[Message], schema: type[T], *, role: Role = "classification") -> Parsed[T]:
        if schema.__name__ != "TicketAnalysis":
            raise ModelRequestError(f"the offline provider cannot produce {schema.__name__}")
        ticket = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
        data: Mapping[str, Any] = self._classifier.classify(ticket, schema.model_json_schema())
        try:
            value = schema.model_validate(data)
        except ValidationError as exc:
            raise SchemaViolationError(f"offline classification does not fit {schema.__name__}: {exc}") from exc
        return Parsed(value=value, usage=self._usage(messages, json.dumps(data)))

    def ping(self) -> str:
        return f"offline: hashing embedder, {self.embedder.dim} dimensions"
