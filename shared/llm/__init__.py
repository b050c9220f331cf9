"""The one client module for models: Azure OpenAI, OpenAI-compatible servers, and offline."""

from shared.llm.base import ModelClient
from shared.llm.factory import build_model_client
from shared.llm.types import ChatResult, EmbeddingResult, Parsed, StreamEvent, ToolCall, Usage

__all__ = [
    "ChatResult",
    "EmbeddingResult",
    "ModelClient",
    "Parsed",
    "StreamEvent",
    "ToolCall",
    "Usage",
    "build_model_client",
]
