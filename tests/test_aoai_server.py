"""The scripted Azure OpenAI server, proven with the real ``openai`` SDK over HTTP.

If these pass, tests built on the server exercise the SDK's real parsing,
retry and error paths rather than a mock's idea of them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import cast

import numpy as np
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from tests.support.aoai_server import (
    RecordedRequest,
    Script,
    ScriptedAOAI,
    chat_content_filter_finish,
    chat_json,
    chat_refusal,
    chat_text,
    chat_tool_calls,
    content_filter_400,
    deterministic_vector,
    embeddings_vectors,
    rate_limited,
    server_error,
    stream_chat,
    timeout,
)

pytest_plugins = ["tests.support.fixtures"]  # the aoai_server fixture

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Where is my refund?"}]


class Ticket(BaseModel):
    category: str
    urgent: bool


def test_chat_text_over_azure_route(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_text("Hello [1]", prompt_tokens=12, completion_tokens=3))
    client = aoai_server.azure_client()
    out = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert out.choices[0].message.content == "Hello [1]"
    assert out.choices[0].finish_reason == "stop"
    assert (out.usage.prompt_tokens, out.usage.total_tokens) == (12, 15)  # type: ignore[union-attr]
    (call,) = aoai_server.calls("chat")
    assert call.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert (call.deployment, call.model) == ("gpt-4o-mini", "gpt-4o-mini")
    assert call.query["api-version"] == "2024-10-21"
    assert call.headers["api-key"] == "test"
    assert call.body["messages"] == MESSAGES
    # Unscripted requests get the default answer.
    assert client.chat.completions.create(model="d", messages=MESSAGES).choices[0].message.content == "OK"


def test_v1_routes_take_model_from_body(aoai_server: ScriptedAOAI) -> None:
    client = aoai_server.openai_client()
    assert client.chat.completions.create(model="m1", messages=MESSAGES).choices[0].message.content == "OK"
    emb = client.embeddings.create(model="e1", input="hello")
    assert len(emb.data[0].embedding) == 1536
    chat, embed = aoai_server.calls()
    assert (chat.path, chat.deployment, chat.model) == ("/v1/chat/completions", None, "m1")
    assert (embed.kind, embed.model) == ("embeddings", "e1")
    assert chat.headers["authorization"] == "Bearer x"


def test_json_and_parse_into_pydantic(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_json({"category": "billing", "urgent": True}))
    client = aoai_server.azure_client()
    out = client.chat.completions.parse(model="gpt", messages=MESSAGES, response_format=Ticket)
    assert out.choices[0].message.parsed == Ticket(category="billing", urgent=True)
    sent = aoai_server.calls("chat")[0].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Ticket"


def test_refusal_is_not_parsed(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_refusal("I can't help with that."))
    client = aoai_server.azure_client()
    out = client.chat.completions.parse(model="gpt", messages=MESSAGES, response_format=Ticket)
    message = out.choices[0].message
    assert (message.content, message.parsed, message.refusal) == (None, None, "I can't help with that.")


def test_429_then_success_honours_retry_after(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(rate_limited(0.05), chat_text("after retry"))
    client = aoai_server.azure_client(max_retries=2)
    started = time.perf_counter()
    out = client.chat.completions.create(model="gpt", messages=MESSAGES)
    elapsed = time.perf_counter() - started
    assert out.choices[0].message.content == "after retry"
    first, second = aoai_server.calls("chat")
    assert [first.status, second.status] == [429, 200]
    assert second.headers["x-stainless-retry-count"] == "1"
    assert 0.05 <= elapsed < 0.3  # the SDK's own backoff would be >= 0.375 s


def test_429_surfaces_azure_body_and_headers(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(rate_limited(2))
    with pytest.raises(openai.RateLimitError) as info:
        aoai_server.azure_client().chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.response.headers["retry-after-ms"] == "2000"
    assert info.value.code == "429"
    assert "Please retry after 2 seconds" in info.value.message


def test_prompt_content_filter_400(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(content_filter_400("hate"))
    with pytest.raises(openai.BadRequestError) as info:
        aoai_server.azure_client(max_retries=2).chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.code == "content_filter"
    assert info.value.param == "prompt"
    body = info.value.body
    assert isinstance(body, dict)
    assert body["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert body["innererror"]["content_filter_result"]["hate"] == {"filtered": True, "severity": "high"}
    assert len(aoai_server.calls("chat")) == 1  # 400s are not retried


def test_content_filter_finish_raises_in_parse(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_content_filter_finish("partial"))
    client = aoai_server.azure_client()
    with pytest.raises(openai.ContentFilterFinishReasonError):
        client.chat.completions.parse(model="gpt", messages=MESSAGES, response_format=Ticket)
    # Without a response_format the SDK returns it; the choice carries the filter verdict.
    aoai_server.script_chat(chat_content_filter_finish("partial", category="sexual"))
    out = client.chat.completions.create(model="gpt", messages=MESSAGES)
    choice = out.choices[0]
    assert (choice.finish_reason, choice.message.content) == ("content_filter", "partial")
    assert choice.model_extra["content_filter_results"]["sexual"]["filtered"] is True  # type: ignore[index]


def test_streaming_deltas_and_usage(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(stream_chat(["Hel", "lo [1]"]))
    chunks = list(aoai_server.azure_client().chat.completions.create(
        model="gpt", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices == [] and chunks[0].model_extra["prompt_filter_results"]  # type: ignore[index]
    assert chunks[1].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello [1]"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    # Without include_usage there is no usage chunk.
    aoai_server.script_chat(stream_chat(["a"]))
    client = aoai_server.azure_client()
    plain = list(client.chat.completions.create(model="g", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in plain)


def test_streaming_content_filter_mid_stream(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(stream_chat(["Hel"], finish_reason="content_filter"))
    client = aoai_server.azure_client()
    chunks = list(client.chat.completions.create(model="gpt", messages=MESSAGES, stream=True))
    last = [c for c in chunks if c.choices][-1].choices[0]
    assert last.finish_reason == "content_filter"
    assert last.model_extra["content_filter_results"]["violence"]["filtered"] is True  # type: ignore[index]
    # The SDK's streaming helper turns it into the same error as parse().
    aoai_server.script_chat(stream_chat(["{\"cat"], finish_reason="content_filter"))
    with pytest.raises(openai.ContentFilterFinishReasonError), client.chat.completions.stream(
            model="gpt", messages=MESSAGES, response_format=Ticket) as stream:
        for _ in stream:
            pass


def test_non_streaming_script_answers_a_streaming_request(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_text("whole"), stream_chat(["pie", "ces"]))
    client = aoai_server.azure_client()
    chunks = list(client.chat.completions.create(model="g", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "whole"
    assert client.chat.completions.create(model="g", messages=MESSAGES).choices[0].message.content == "pieces"


def test_tool_calls(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_tool_calls([("search", {"query": "refund policy", "top": 3})]))
    out = aoai_server.azure_client().chat.completions.create(model="gpt", messages=MESSAGES)
    choice = out.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert (call.function.name, json.loads(call.function.arguments)) == ("search", {"query": "refund policy",
                                                                                     "top": 3})


def test_embeddings_base64_default_and_float(aoai_server: ScriptedAOAI) -> None:
    client = aoai_server.azure_client()
    default = client.embeddings.create(model="emb", input=["alpha", "beta", "alpha"], dimensions=1536)
    assert aoai_server.calls("embeddings")[0].body["encoding_format"] == "base64"  # what the SDK asks for
    vectors = [np.asarray(d.embedding, dtype=np.float32) for d in default.data]
    assert [len(v) for v in vectors] == [1536] * 3
    np.testing.assert_array_equal(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])
    np.testing.assert_allclose(vectors[0], deterministic_vector("alpha", 1536))
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5
    floats = client.embeddings.create(model="emb", input="alpha", encoding_format="float", dimensions=1536)
    np.testing.assert_array_equal(np.asarray(floats.data[0].embedding, dtype=np.float32), vectors[0])
    raw = client.embeddings.create(model="emb", input="alpha", encoding_format="base64", dimensions=1536)
    as_text = cast(str, raw.data[0].embedding)  # typed list[float], but a str when base64 is explicit
    decoded = np.frombuffer(base64.b64decode(as_text), dtype="<f4")
    np.testing.assert_array_equal(decoded, vectors[0])
    assert default.usage.prompt_tokens == default.usage.total_tokens == 6


def test_embeddings_dimensions_tokens_and_explicit_vectors(aoai_server: ScriptedAOAI) -> None:
    client = aoai_server.azure_client()
    small = client.embeddings.create(model="emb", input=[[1, 2, 3], [4, 5]], dimensions=8)
    assert [len(d.embedding) for d in small.data] == [8, 8]
    np.testing.assert_allclose(small.data[0].embedding, deterministic_vector("1 2 3", 8))
    aoai_server.script_embeddings(embeddings_vectors([[1.0, 0.0], [0.0, 1.0]]))
    out = client.embeddings.create(model="emb", input=["x", "y"])
    assert [d.embedding for d in out.data] == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="emb", input="")


def test_callable_scripts_and_server_errors(aoai_server: ScriptedAOAI) -> None:
    def echo(record: RecordedRequest) -> Script:
        return chat_text(record.body["messages"][-1]["content"].upper())

    aoai_server.script_chat(server_error(503), echo)
    out = aoai_server.azure_client(max_retries=1).chat.completions.create(model="g", messages=MESSAGES)
    assert out.choices[0].message.content == "WHERE IS MY REFUND?"
    assert [c.status for c in aoai_server.calls("chat")] == [503, 200]
    assert aoai_server.pending("chat") == 0


def test_timeout_trips_client_timeout(aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(timeout(2.0))
    client = aoai_server.azure_client(timeout=0.2)
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="g", messages=MESSAGES)
    assert time.perf_counter() - started < 1.5


def test_missing_api_version_and_unknown_route(aoai_server: ScriptedAOAI) -> None:
    bare = openai.OpenAI(base_url=aoai_server.url + "/openai/deployments/gpt", api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        bare.chat.completions.create(model="gpt", messages=MESSAGES)
    assert info.value.code == "MissingApiVersionParameter"
    with pytest.raises(openai.NotFoundError):
        openai.OpenAI(base_url=aoai_server.url, api_key="x", max_retries=0).models.list()
    assert [c.status for c in aoai_server.calls()] == [400, 404]


def test_quota_mode_rejects_then_recovers(aoai_server: ScriptedAOAI) -> None:
    aoai_server.enforce_tpm(40, window_seconds=0.4)
    text = "x" * 100  # 26 estimated tokens
    client = aoai_server.azure_client()
    client.embeddings.create(model="emb", input=text)
    with pytest.raises(openai.RateLimitError) as info:
        client.embeddings.create(model="emb", input=text)
    wait = float(info.value.response.headers["retry-after"])
    assert 0 < wait <= 0.4
    assert int(info.value.response.headers["retry-after-ms"]) == pytest.approx(wait * 1000, abs=1)
    # The SDK's retry, honouring retry-after-ms, gets through once the window slides.
    aoai_server.azure_client(max_retries=3).embeddings.create(model="emb", input=text)
    stats = aoai_server.tpm_stats()
    assert (stats.tokens_accepted, stats.requests_accepted) == (52, 2)
    assert stats.requests_rejected >= 1
    aoai_server.reset()
    assert aoai_server.tpm_stats().requests_rejected == 0 and aoai_server.calls() == []


def test_async_client_and_lifecycle() -> None:
    with ScriptedAOAI(default_dimensions=16) as server:
        async def run() -> list[float]:
            client = openai.AsyncAzureOpenAI(azure_endpoint=server.url, api_key="k", api_version="2024-10-21")
            async with client:
                out = await client.embeddings.create(model="emb", input="hello")
            return out.data[0].embedding

        assert len(asyncio.run(run())) == 16
        url = server.url
    with pytest.raises(RuntimeError):
        _ = server.url
    assert url.startswith("http://127.0.0.1:")
