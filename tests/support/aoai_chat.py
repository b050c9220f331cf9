"""Scripted chat answers in Azure OpenAI's real ``chat.completion`` shapes.

A chat script is rendered against the incoming request, so the same script
answers a streaming request with ``chat.completion.chunk`` events (including
Azure's leading prompt-filter chunk) and a plain one with a ``chat.completion``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .aoai_replies import (
    DONE,
    Fallback,
    RecordedRequest,
    Reply,
    Script,
    estimate_tokens,
    filter_results,
    prompt_tokens_of,
)


def _prompt_filter_results() -> list[dict[str, Any]]:
    results = filter_results() | {"jailbreak": {"filtered": False, "detected": False}}
    return [{"prompt_index": 0, "content_filter_results": results}]


@dataclass(frozen=True)
class ChatScript(Script):
    """What the assistant says; rendered as a completion or as a chunk stream."""

    pieces: tuple[str, ...] | None = ("OK",)  # None -> message.content is null
    finish_reason: str = "stop"
    refusal: str | None = None
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    filtered: str | None = None  # output filter category flagged in the choice
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage: bool = True  # emit the usage chunk when stream_options.include_usage is set
    model: str | None = None

    def render(self, record: RecordedRequest, fallback: Fallback) -> Reply:
        content = None if self.pieces is None else "".join(self.pieces)
        prompt = self.prompt_tokens if self.prompt_tokens is not None else prompt_tokens_of(record.body)
        calls_text = "".join(name + json.dumps(args) for name, args in self.tool_calls)
        spoken = (content or "") + (self.refusal or "") + calls_text
        completion = self.completion_tokens if self.completion_tokens is not None else estimate_tokens(spoken)
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
            "created": int(time.time()),
            "model": self.model or record.model or "gpt-4o",
            "system_fingerprint": "fp_scripted",
        }
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
        calls = [
            {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for name, args in self.tool_calls
        ]
        if record.stream:
            return Reply(events=self._chunks(record, base, calls, usage))
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": self.refusal}
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason, "logprobs": None,
                  "content_filter_results": filter_results(self.filtered)}
        body = {**base, "object": "chat.completion", "choices": [choice], "usage": usage,
                "prompt_filter_results": _prompt_filter_results()}
        return Reply(body=body)

    def _chunks(self, record: RecordedRequest, base: dict[str, Any], calls: list[dict[str, Any]],
                usage: dict[str, Any]) -> tuple[Any, ...]:
        chunk = {**base, "object": "chat.completion.chunk"}

        def choice(delta: dict[str, Any], finish: str | None = None, cfr: Any = None) -> dict[str, Any]:
            c = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return {**chunk, "choices": [c | {"content_filter_results": cfr if cfr is not None else {}}]}

        events: list[Any] = [{"id": "", "object": "", "created": 0, "model": "", "choices": [],
                              "prompt_filter_results": _prompt_filter_results()}]
        events.append(choice({"role": "assistant", "content": "", "refusal": None}))
        events += [choice({"content": p}, cfr=filter_results()) for p in (self.pieces or ()) if p]
        if self.refusal is not None:
            events.append(choice({"refusal": self.refusal}))
        events += [choice({"tool_calls": [{"index": i, **c}]}) for i, c in enumerate(calls)]
        final_cfr = filter_results(self.filtered) if self.filtered else None
        events.append(choice({}, self.finish_reason, final_cfr))
        options = record.body.get("stream_options") if isinstance(record.body, dict) else None
        if self.usage and isinstance(options, dict) and options.get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
        return (*events, DONE)


def chat_text(content: str, finish_reason: str = "stop", prompt_tokens: int | None = None,
              completion_tokens: int | None = None) -> ChatScript:
    """A plain assistant message (token counts are estimated unless given)."""
    return ChatScript((content,), finish_reason, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens)


def chat_json(obj: Any, finish_reason: str = "stop", prompt_tokens: int | None = None,
              completion_tokens: int | None = None) -> ChatScript:
    """Structured-output answer: the content is ``json.dumps(obj)``."""
    return chat_text(json.dumps(obj), finish_reason, prompt_tokens, completion_tokens)


def chat_refusal(text: str) -> ChatScript:
    """Structured-output refusal: content null, ``message.refusal`` set."""
    return ChatScript(None, refusal=text)


def chat_tool_calls(calls: Sequence[tuple[str, dict[str, Any]]]) -> ChatScript:
    """Assistant asks for function calls; finish_reason ``tool_calls``."""
    return ChatScript(None, "tool_calls", tool_calls=tuple((n, dict(a)) for n, a in calls))


def chat_content_filter_finish(partial_text: str = "", category: str = "violence") -> ChatScript:
    """Output cut by the content filter (works for plain and streaming requests)."""
    return ChatScript((partial_text,) if partial_text else None, "content_filter", filtered=category)


def stream_chat(pieces: Sequence[str], finish_reason: str = "stop", usage: bool = True,
                filtered: str | None = None) -> ChatScript:
    """Content arriving as one delta per piece; ``finish_reason="content_filter"``
    with ``filtered=<category>`` is the mid-stream filter variant."""
    if finish_reason == "content_filter" and filtered is None:
        filtered = "violence"
    return ChatScript(tuple(pieces), finish_reason, usage=usage, filtered=filtered)
