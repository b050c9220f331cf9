"""Scripted answers for the fake Azure OpenAI server, in the real REST shapes.

Tests describe *what the model says* (text, JSON, a refusal, tool calls, a
content-filter hit, a throttle); the classes here turn that into the exact JSON
or server-sent-event bodies Azure OpenAI returns, so the real ``openai`` SDK
parses them exactly as it would in production.  Chat answers live in
``aoai_chat``; this module holds the shared types, errors and embeddings.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

DONE = "[DONE]"
"""Raw SSE payload that terminates a chat stream (written without JSON encoding)."""

_HARM = ("hate", "self_harm", "sexual", "violence")
_DETECTED = ("jailbreak", "indirect_attack", "protected_material_code", "protected_material_text")


@dataclass
class RecordedRequest:
    """One HTTP request as the server saw it; tests assert on these."""

    method: str
    path: str
    kind: str  # "chat" | "embeddings" | "other"
    deployment: str | None  # Azure deployment from the URL; None on /v1 routes
    model: str | None  # deployment name, or the body's "model" on /v1 routes
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: Any
    status: int | None = None  # filled in once the answer is chosen

    @property
    def stream(self) -> bool:
        """True when the client asked for server-sent events."""
        return isinstance(self.body, dict) and self.body.get("stream") is True


Fallback = Callable[[RecordedRequest], "Reply"]
Responder = Callable[[RecordedRequest], "Reply | Script | None"]


class Script:
    """Anything queued with ``script_chat``/``script_embeddings``.

    ``fallback`` is the server's default behaviour, so wrappers such as
    :func:`timeout` can delay "whatever would have happened anyway".
    """

    def render(self, record: RecordedRequest, fallback: Fallback) -> Reply:
        raise NotImplementedError


@dataclass(frozen=True)
class Reply(Script):
    """A finished HTTP answer. ``events`` (if set) is streamed as SSE instead of ``body``."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    events: tuple[Any, ...] | None = None

    def render(self, record: RecordedRequest, fallback: Fallback) -> Reply:
        """A finished reply renders to itself."""
        return self


@dataclass(frozen=True)
class _Dynamic(Script):
    fn: Responder

    def render(self, record: RecordedRequest, fallback: Fallback) -> Reply:
        out = self.fn(record)
        return fallback(record) if out is None else out.render(record, fallback)


def as_script(item: Script | Responder) -> Script:
    """Accept a ready script or a ``(record) -> Reply | Script | None`` callable."""
    return item if isinstance(item, Script) else _Dynamic(item)


def estimate_tokens(text: str) -> int:
    """Cheap, deterministic token estimate (about 4 characters per token)."""
    return len(text) // 4 + 1


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts or token ids
        return " ".join(_text_of(v.get("text", "") if isinstance(v, dict) else v) for v in value)
    return "" if value is None else str(value)


def prompt_tokens_of(body: Any) -> int:
    """Token estimate for a chat request's messages."""
    msgs = body.get("messages", []) if isinstance(body, dict) else []
    return sum(estimate_tokens(_text_of(m.get("content"))) for m in msgs if isinstance(m, dict))


def embedding_inputs(body: Any) -> list[str]:
    """Normalise ``input`` (str, list of str, token ids, lists of token ids) to texts."""
    raw = body.get("input") if isinstance(body, dict) else None
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        return [_text_of(raw)]
    return [_text_of(x) for x in raw] if isinstance(raw, list) else []


def deterministic_vector(text: str, dim: int = 1536) -> np.ndarray:
    """Unit float32 vector seeded by the text's hash: same text, same vector."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vec = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return vec / np.float32(np.linalg.norm(vec))


def filter_results(category: str | None = None, severity: str = "high") -> dict[str, Any]:
    """Azure ``content_filter_results``; ``category`` (if given) is marked filtered."""
    out: dict[str, Any] = {c: {"filtered": False, "severity": "safe"} for c in _HARM}
    if category in _DETECTED:
        out[category] = {"filtered": True, "detected": True}
    elif category is not None:
        out[category] = {"filtered": True, "severity": severity}
    return out


def json_reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """Any literal JSON answer, for shapes the helpers below do not cover."""
    return Reply(status=status, body=body, headers=dict(headers or {}))


def content_filter_400(category: str = "violence", severity: str = "high") -> Reply:
    """Azure's 400 when the *prompt* trips the content filter."""
    results = filter_results(category, severity)
    results.setdefault("jailbreak", {"filtered": False, "detected": False})
    message = ("The response was filtered due to the prompt triggering Azure OpenAI's content management "
               "policy. Please modify your prompt and retry. To learn more about our content filtering "
               "policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766")
    error = {"message": message, "type": None, "param": "prompt", "code": "content_filter", "status": 400,
             "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results}}
    return Reply(status=400, body={"error": error})


def throttle_reply(retry_after: float, record: RecordedRequest | None = None) -> Reply:
    """Azure's 429 with ``Retry-After`` (seconds) and ``retry-after-ms``."""
    embeddings = record is not None and record.kind == "embeddings"
    op = "Embeddings_Create" if embeddings else "ChatCompletions_Create"
    version = (record.query.get("api-version") if record else None) or "2024-10-21"
    message = (f"Requests to the {op} Operation under Azure OpenAI API version {version} have exceeded "
               f"token rate limit of your current OpenAI S0 pricing tier. Please retry after "
               f"{max(1, math.ceil(retry_after))} seconds.")
    millis = max(1, math.ceil(retry_after * 1000))
    headers = {"Retry-After": f"{retry_after:g}", "retry-after-ms": str(millis)}
    return Reply(status=429, body={"error": {"code": "429", "message": message}}, headers=headers)


def rate_limited(retry_after: float = 0.05) -> Script:
    """A scripted 429; the SDK's own retry honours the headers."""
    return _Dynamic(lambda record: throttle_reply(retry_after, record))


def server_error(status: int = 500) -> Reply:
    """A 5xx in Azure's error envelope (the SDK retries these)."""
    code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable"}.get(status, str(status))
    message = "The server had an error while processing your request. Sorry about that!"
    return Reply(status=status, body={"error": {"code": code, "message": message}})


@dataclass(frozen=True)
class _Delayed(Script):
    seconds: float
    then: Script | None

    def render(self, record: RecordedRequest, fallback: Fallback) -> Reply:
        inner = self.then.render(record, fallback) if self.then is not None else fallback(record)
        return replace(inner, delay=self.seconds)


def timeout(delay_seconds: float, then: Script | Responder | None = None) -> Script:
    """Sleep before answering (with ``then`` or the default) to trip client timeouts."""
    return _Delayed(delay_seconds, None if then is None else as_script(then))


@dataclass(frozen=True)
class EmbeddingsScript(Script):
    """Embeddings answer; ``vectors=None`` means deterministic per-text vectors."""

    vectors: tuple[tuple[float, ...], ...] | None = None
    default_dim: int = 1536

    def render(self, record: RecordedRequest, fallback: Fallback) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        texts = embedding_inputs(body)
        if not texts or any(t == "" for t in texts):
            error = {"code": "invalid_request_error", "message": "'$.input' is invalid.", "param": "input",
                     "type": "invalid_request_error"}
            return Reply(status=400, body={"error": error})
        dim = int(body.get("dimensions") or self.default_dim)
        vecs = ([np.asarray(v, dtype=np.float32) for v in self.vectors] if self.vectors is not None
                else [deterministic_vector(t, dim) for t in texts])
        as_b64 = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if as_b64 else v.tolist()}
                for i, v in enumerate(vecs)]
        tokens = sum(estimate_tokens(t) for t in texts)
        return Reply(body={"object": "list", "data": data, "model": record.model or "text-embedding-3-small",
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def embeddings_vectors(vectors: Sequence[Sequence[float]]) -> EmbeddingsScript:
    """Explicit vectors, one per input, honouring the requested encoding."""
    return EmbeddingsScript(tuple(tuple(float(x) for x in v) for v in vectors))
