"""Azure OpenAI and OpenAI-compatible servers through the official ``openai`` SDK.

Retries (429 with Retry-After, 5xx, timeouts) are the SDK's own, configured once from
settings; what is still failing afterwards is translated by :mod:`shared.llm.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import openai
from pydantic import ValidationError

from shared.errors import ContentFilteredError, RefusalError, SchemaViolationError
from shared.llm import pricing
from shared.llm.errors import translated
from shared.llm.structured import repair_messages, schema_instruction, validate_json
from shared.llm.types import (
    ChatResult,
    EmbeddingResult,
    Message,
    Parsed,
    Role,
    StreamEvent,
    T,
    ToolCall,
    Usage,
)
from shared.tokens import count_text, count_tokens


class RemoteModelClient:
    """One SDK client for all roles; ``provider`` is ``azure`` or ``openai``."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        provider: str,
        models: Mapping[Role, str],
        dimensions: int,
        prices: Mapping[str, Mapping[str, float]],
        send_dimensions: bool = True,
    ) -> None:
        self.provider = provider
        self._client = client
        self._models = dict(models)
        self._dimensions = dimensions
        self._prices = prices
        self._send_dimensions = send_dimensions
        # OpenAI-compatible servers often lack json_schema; learnt on first refusal.
        self._json_schema_supported = True

    def model_for(self, role: Role) -> str:
        return self._models[role]

    def _usage(self, model: str, raw: Any, fallback_prompt: int = 0, served: str | None = None) -> Usage:
        prompt = getattr(raw, "prompt_tokens", None) or fallback_prompt
        completion = getattr(raw, "completion_tokens", None) or 0
        return pricing.estimate(self._prices, model, prompt, completion, served_model=served)

    def embed(self, texts: Sequence[str]) -> EmbeddingResult:
        model = self.model_for("embeddings")
        extra: dict[str, Any] = {"dimensions": self._dimensions} if self._send_dimensions else {}
        with translated():
            response = self._client.embeddings.create(model=model, input=list(texts), **extra)
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        if vectors and len(vectors[0]) != self._dimensions:
            raise SchemaViolationError(
                f"embedding model returned {len(vectors[0])} dimensions; EMBEDDING_DIMENSIONS is {self._dimensions}"
            )
        usage = self._usage(model, response.usage, sum(count_text(t, model) for t in texts), response.model)
        return EmbeddingResult(vectors=vectors, usage=usage)

    def chat(
        self,
        messages: Sequence[Message],
        *,
        role: Role = "chat",
        tools: Sequence[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
    ) -> ChatResult:
        model = self.model_for(role)
        extra: dict[str, Any] = {"tools": list(tools)} if tools else {}
        if max_tokens:
            extra["max_tokens"] = max_tokens
        with translated():
            completion = self._client.chat.completions.create(
                model=model, messages=cast(Any, list(messages)), temperature=0, **extra
            )
        choice = completion.choices[0]
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in (choice.message.tool_calls or [])
            if c.type == "function"
        ]
        return ChatResult(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "stop",
            usage=self._usage(model, completion.usage, count_tokens(messages, model), completion.model),
            tool_calls=calls,
        )

    def stream_chat(
        self, messages: Sequence[Message], *, role: Role = "chat", max_tokens: int | None = None
    ) -> Iterator[StreamEvent]:
        model = self.model_for(role)
        extra: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
        finish: str | None = None
        raw_usage: Any = None
        produced: list[str] = []
        with translated():
            stream = self._client.chat.completions.create(
                model=model, messages=cast(Any, list(messages)), temperature=0, stream=True,
                stream_options={"include_usage": True}, **extra,
            )
            for chunk in stream:
                raw_usage = chunk.usage or raw_usage
                for choice in chunk.choices:  # Azure's first chunk has none: prompt filter results
                    if choice.delta.content:
                        produced.append(choice.delta.content)
                        yield StreamEvent(kind="delta", text=choice.delta.content)
                    finish = choice.finish_reason or finish
        usage = self._usage(model, raw_usage, count_tokens(messages, model))
        if raw_usage is None:  # servers that ignore include_usage: estimate the completion too
            usage = pricing.estimate(self._prices, model, usage.prompt_tokens, count_text("".join(produced), model))
        yield StreamEvent(kind="end", finish_reason=finish or "stop", usage=usage)

    def parse(self, messages: Sequence[Message], schema: type[T], *, role: Role = "classification") -> Parsed[T]:
        model = self.model_for(role)
        if self._json_schema_supported:
            attempt = self._parse_strict(model, messages, schema)
            if attempt is not None:
                return attempt
        return self._parse_json_mode(model, messages, schema)

    def _parse_strict(self, model: str, messages: Sequence[Message], schema: type[T]) -> Parsed[T] | None:
        """Strict ``json_schema`` via the SDK's parse; None when the server does not support it."""
        client = self._client if self.provider == "azure" else self._client.with_options(max_retries=0)
        with translated():
            try:
                raw = client.chat.completions.with_raw_response.parse(
                    model=model, messages=cast(Any, list(messages)), response_format=schema, temperature=0
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError, openai.InternalServerError) as exc:
                if self.provider == "azure" or _mentions_content_filter(exc):
                    raise
                self._json_schema_supported = False
                return None
            body = raw.http_response.json()
            usage = self._usage(model, _Obj(body.get("usage") or {}), count_tokens(messages, model), body.get("model"))
            try:
                completion = raw.parse()
            except (ValidationError, ValueError) as exc:
                content = _first_content(body)
                # The repair runs in JSON mode, which does not enforce the schema: state it.
                return self._repair(model, [schema_instruction(schema), *messages], schema, content, exc, usage)
        message = completion.choices[0].message
        if message.refusal:
            raise RefusalError(f"the model refused: {message.refusal}")
        if message.parsed is None:
            raise SchemaViolationError("the model returned no structured output")
        return Parsed(value=message.parsed, usage=usage)

    def _parse_json_mode(self, model: str, messages: Sequence[Message], schema: type[T]) -> Parsed[T]:
        """JSON mode with the schema in the prompt, validated by pydantic, repaired once."""
        prompt = [schema_instruction(schema), *messages]
        content, usage = self._json_call(model, prompt)
        try:
            return Parsed(value=cast(T, validate_json(schema, content)), usage=usage)
        except (ValidationError, ValueError) as exc:
            return self._repair(model, prompt, schema, content, exc, usage)

    def _repair(
        self, model: str, messages: Sequence[Message], schema: type[T], content: str, exc: Exception, usage: Usage
    ) -> Parsed[T]:
        error = exc if isinstance(exc, ValidationError) else _as_validation_error(schema, content)
        content2, usage2 = self._json_call(model, repair_messages(messages, content, error))
        total = usage + usage2
        try:
            return Parsed(value=cast(T, validate_json(schema, content2)), usage=total, repaired=True)
        except (ValidationError, ValueError) as exc2:
            raise SchemaViolationError(f"model output does not match {schema.__name__} after one repair: {exc2}") \
                from exc2

    def _json_call(self, model: str, messages: Sequence[Message]) -> tuple[str, Usage]:
        with translated():
            completion = self._client.chat.completions.create(
                model=model, messages=cast(Any, list(messages)), temperature=0,
                response_format={"type": "json_object"},
            )
        choice = completion.choices[0]
        if choice.finish_reason == "content_filter":
            raise ContentFilteredError("the completion was stopped by the content filter")
        if choice.message.refusal:
            raise RefusalError(f"the model refused: {choice.message.refusal}")
        usage = self._usage(model, completion.usage, count_tokens(messages, model), completion.model)
        return choice.message.content or "", usage

    def ping(self) -> str:
        self.embed(["ping"])
        return f"{self.provider}: {self.model_for('embeddings')} reachable"


class _Obj:
    """Attribute view over a usage dict from a raw response body."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.prompt_tokens = data.get("prompt_tokens")
        self.completion_tokens = data.get("completion_tokens")


def _first_content(body: Mapping[str, Any]) -> str:
    choices = body.get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")


def _mentions_content_filter(exc: openai.APIStatusError) -> bool:
    return "content_filter" in str(exc.body)


def _as_validation_error(schema: type[T], content: str) -> ValidationError:
    try:
        validate_json(schema, content)
    except ValidationError as exc:
        return exc
    except ValueError:
        pass
    try:
        schema.model_validate_json("null")
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


def _bearer_token_provider(client_id: str | None) -> Callable[[], str]:
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    credential = DefaultAzureCredential(managed_identity_client_id=client_id)
    return get_bearer_token_provider(credential, "https://cognitiveservices.azure.com/.default")
