"""Values every provider returns, so callers never see a vendor SDK type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T", bound=BaseModel)

Role = Literal["chat", "classification", "embeddings"]
Message = dict[str, Any]


class Usage(BaseModel):
    """Tokens spent by one or more model calls and what they cost at list price."""

    model_config = ConfigDict(frozen=True)

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 1

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        names = [m for m in (*self.model.split("+"), *other.model.split("+")) if m and m != "none"]
        model = "+".join(dict.fromkeys(names)) or "none"
        return Usage(
            model=model,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            calls=self.calls + other.calls,
        )


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str
    usage: Usage
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class StreamEvent:
    """One piece of a streamed answer: text deltas, then a single ``end`` with usage."""

    kind: Literal["delta", "end"]
    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    usage: Usage


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T
    usage: Usage
    repaired: bool = False
