"""/api/health reports the database and the model provider, through the real handler."""

from __future__ import annotations

import asyncio
import json

from shared.runtime import Services
from tests.support.aoai_server import ScriptedAOAI, server_error
from tests.support.functions import handler, http_request


def _get_health() -> tuple[int, dict[str, object]]:
    response = asyncio.run(handler("health")(http_request("GET", "/api/health")))
    return response.status_code, json.loads(bytes(response.body))


def test_health_ok_offline(services: Services) -> None:
    status, body = _get_health()
    assert status == 200
    assert body["provider"] == "offline"
    assert "pgvector 0.8" in str(body["database"])


def test_health_reports_a_failing_model_endpoint(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_embeddings(*[server_error(503)] * 3)
    status, body = _get_health()
    assert status == 503
    assert body["database"] == {"ok": True, "detail": body["database"]["detail"]}  # type: ignore[index]
    assert body["model"]["ok"] is False  # type: ignore[index]
