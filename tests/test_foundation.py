"""The foundation on real parts: settings, tokens offline, the database with RLS, the model clients."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from shared.config import load_settings
from shared.errors import ConfigurationError, ContentFilteredError, TransientError
from shared.llm import build_model_client
from shared.runtime import Services
from tests.support.aoai_server import ScriptedAOAI, chat_text, content_filter_400, rate_limited

ROOT = Path(__file__).resolve().parent.parent


def test_invalid_setting_is_named() -> None:
    with pytest.raises(ConfigurationError, match="EMBEDDING_DIMENSIONS"):
        load_settings(embedding_dimensions=12)


def test_production_refuses_tenant_header() -> None:
    with pytest.raises(ConfigurationError, match="ALLOW_TENANT_HEADER"):
        load_settings(environment="production", allow_tenant_header=True, database_url="postgresql://x@y/z")


def test_token_counting_with_empty_cache_and_no_network(tmp_path: Path) -> None:
    """A fresh interpreter, an empty cache dir and every socket refused: counting still works."""
    code = (
        "import socket\n"
        "def _no(*a, **k): raise OSError('network disabled for this test')\n"
        "socket.socket.connect = _no\nsocket.create_connection = _no\n"
        "from pathlib import Path\nfrom shared import tokens\n"
        f"tokens.configure(Path({str(tmp_path / 'tk')!r}))\n"
        "print(tokens.count_text('hello world', 'gpt-4o'), tokens.count_text('hello world', 'text-embedding-3-small'),"
        " tokens.count_tokens([{'role': 'user', 'content': 'hello world'}], 'gpt-4o'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["2", "2", "9"]
    files = sorted((tmp_path / "tk").iterdir())
    assert len(files) == 2
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    assert hashlib.sha1(url.encode()).hexdigest() in {f.name for f in files}


def test_rls_keeps_tenants_apart_even_without_where(services: Services) -> None:
    with services.db.tenant("alpha") as conn:
        conn.execute("INSERT INTO documents (tenant_id, blob_path, status) VALUES ('alpha', 'a.md', 'ready')")
    with services.db.tenant("beta") as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)
    with services.db.unscoped() as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone() == (0,)
    with pytest.raises(Exception, match="row-level security"), services.db.tenant("beta") as conn:
        conn.execute("INSERT INTO documents (tenant_id, blob_path, status) VALUES ('alpha', 'b.md', 'ready')")


def test_offline_provider_is_labelled_and_deterministic(services: Services) -> None:
    model = services.model
    first = model.embed(["refund window", "refund window"])
    assert first.vectors[0] == first.vectors[1]
    assert len(first.vectors[0]) == services.settings.embedding_dimensions
    assert first.usage.model == "offline" and first.usage.cost_usd == 0


def test_azure_client_keyless_by_default_constructs_offline(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(model_provider="azure", azure_openai_endpoint="https://example.openai.azure.com")
    client = build_model_client(settings)
    assert client.provider == "azure"
    assert client.model_for("classification") == settings.classification_deployment


def test_azure_chat_over_http_reports_usage_and_cost(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_text("Hello", prompt_tokens=1000, completion_tokens=100))
    result = azure_services.model.chat([{"role": "user", "content": "hi"}])
    assert result.text == "Hello"
    assert result.usage.prompt_tokens == 1000 and result.usage.completion_tokens == 100
    assert result.usage.cost_usd == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6)
    call = aoai_server.calls("chat")[0]
    assert call.path.startswith("/openai/deployments/gpt-4o-mini/chat/completions")
    assert call.headers.get("api-key") == "test-key"


def test_429_honours_retry_after_then_succeeds(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_embeddings(rate_limited(retry_after=0.05))
    result = azure_services.model.embed(["hello"])
    assert len(result.vectors[0]) == 1536
    assert len(aoai_server.calls("embeddings")) == 2


def test_429_exhausted_is_transient(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_embeddings(*[rate_limited(retry_after=0.01)] * 3)
    with pytest.raises(TransientError):
        azure_services.model.embed(["hello"])


def test_content_filter_400_is_permanent(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(content_filter_400())
    with pytest.raises(ContentFilteredError):
        azure_services.model.chat([{"role": "user", "content": "bad"}])
    assert len(aoai_server.calls("chat")) == 1  # never retried


def test_openai_compatible_provider(make_services, aoai_server: ScriptedAOAI) -> None:  # type: ignore[no-untyped-def]
    services = make_services(model_provider="openai", openai_base_url=aoai_server.url + "/v1")
    aoai_server.script_chat(chat_text("from vllm"))
    assert services.model.chat([{"role": "user", "content": "hi"}]).text == "from vllm"
    assert aoai_server.calls("chat")[0].path == "/v1/chat/completions"
    assert isinstance(services.model, object) and openai.__version__


def test_cost_uses_the_served_model_when_the_deployment_has_another_name(
    make_services, aoai_server: ScriptedAOAI  # type: ignore[no-untyped-def]
) -> None:
    services = make_services(model_provider="azure", azure_openai_endpoint=aoai_server.url,
                             azure_openai_api_key="k", chat_deployment="support-bot")
    # Azure answers with the underlying model's name, whatever the deployment is called.
    reply = dataclasses.replace(chat_text("hi", prompt_tokens=1_000_000, completion_tokens=0),
                                model="gpt-4o-mini-2024-07-18")
    aoai_server.script_chat(reply)
    usage = services.model.chat([{"role": "user", "content": "hi"}]).usage
    served = aoai_server.calls("chat")[0]
    assert served.deployment == "support-bot"
    assert usage.cost_usd == pytest.approx(0.15)
