"""classify_ticket end to end: the real handler, the real openai SDK against the scripted Azure
OpenAI server over HTTP, real PostgreSQL. Each test asserts the recorded row and the model calls."""

from __future__ import annotations

import json
from typing import Any

import pytest
from psycopg_pool import PoolTimeout

from shared.db import Database
from shared.errors import TransientError
from shared.runtime import Services, set_services
from tests.support.aoai_server import (
    ScriptedAOAI,
    chat_content_filter_finish,
    chat_json,
    chat_refusal,
    chat_text,
    content_filter_400,
    json_reply,
    rate_limited,
    server_error,
)
from tests.support.functions import handler, service_bus_message

TICKET = {
    "id": "T-1", "tenant": "contoso", "subject": "Charged twice",
    "body": "Our card shows two charges for November. Please refund one.",
    "customer": "Megan Bowen <megan@contoso.com>", "channel": "email", "created_at": "2026-11-04T08:12:00Z",
}
ANALYSIS = {
    "category": "billing", "priority": "medium", "summary": "Customer was charged twice for November.",
    "suggested_actions": ["Check the payment log", "Refund the duplicate charge"],
    "estimated_resolution_hours": 8,
}


def classify(ticket: Any = TICKET, **kwargs: Any) -> None:
    tenant = kwargs.pop("tenant", ticket.get("tenant") if isinstance(ticket, dict) else None)
    handler("classify_ticket")(service_bus_message(ticket, tenant=tenant, **kwargs))


def rows(services: Services, tenant: str = "contoso") -> list[dict[str, Any]]:
    with services.db.tenant(tenant) as conn, conn.cursor() as cur:
        cur.execute("SELECT message_id, ticket_id, outcome, reason_code, reason, raw_body, analysis, model, "
                    "prompt_version, prompt_tokens, completion_tokens, cost_usd, latency_ms, delivery_count, "
                    "repaired, category, priority FROM ticket_outcomes ORDER BY created_at")
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_valid_ticket_gives_one_classified_row(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_json(ANALYSIS, prompt_tokens=700, completion_tokens=60))
    classify()
    [row] = rows(azure_services)
    assert row["outcome"] == "classified" and row["message_id"] == "T-1" and row["ticket_id"] == "T-1"
    assert row["analysis"]["category"] == "billing" and row["category"] == "billing" and row["priority"] == "medium"
    assert row["model"] == "gpt-4o-mini" and row["prompt_version"] == "v2" and row["delivery_count"] == 1
    assert (row["prompt_tokens"], row["completion_tokens"]) == (700, 60)
    assert float(row["cost_usd"]) == pytest.approx((700 * 0.15 + 60 * 0.60) / 1e6)
    assert row["latency_ms"] is not None and not row["repaired"]
    [call] = aoai_server.calls("chat")
    assert call.deployment == "gpt-4o-mini"
    fmt = call.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"] == "TicketAnalysis"
    schema = fmt["json_schema"]["schema"]
    assert schema["properties"]["category"]["enum"] == ["billing", "technical", "account", "general"]
    assert schema["additionalProperties"] is False
    assert "maxLength" not in json.dumps(schema)  # Azure's strict mode rejects it; pydantic enforces it
    sent = " ".join(m["content"] for m in call.body["messages"])
    assert "Lumora" in sent and "Charged twice" in sent and "megan@contoso.com" not in sent


def test_redelivered_message_does_not_call_the_model_again(
        azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_json(ANALYSIS))
    classify()
    classify(delivery_count=2)
    assert len(aoai_server.calls("chat")) == 1
    assert [r["outcome"] for r in rows(azure_services)] == ["classified"]


@pytest.mark.parametrize(("payload", "reason"), [
    (b'{"id": "T-9", "subject": "Broken', "Invalid JSON"),
    ({"id": "T-9", "subject": "No body"}, "body: Field required"),
    ({**TICKET, "id": "T-9", "label": {"category": "billing"}}, "label: Extra inputs are not permitted"),
    ({**TICKET, "id": "T-9", "body": "x" * 20_001}, "body is longer than 20000"),
])
def test_invalid_ticket_is_rejected_without_a_model_call(
        azure_services: Services, aoai_server: ScriptedAOAI, payload: Any, reason: str) -> None:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    handler("classify_ticket")(service_bus_message(raw, message_id="m-9", tenant="contoso"))
    handler("classify_ticket")(service_bus_message(raw, message_id="m-9", tenant="contoso", delivery_count=2))
    [row] = rows(azure_services)
    assert row["outcome"] == "rejected" and row["reason_code"] == "invalid_ticket"
    assert reason in row["reason"]
    assert row["raw_body"] == raw.decode()[:4000] and row["analysis"] is None and row["model"] is None
    assert aoai_server.calls("chat") == []


def test_rejected_raw_body_is_truncated_and_tenant_defaults(
        make_services: Any, aoai_server: ScriptedAOAI) -> None:
    services = make_services(rejected_body_max_chars=10, default_tenant="fallback")
    handler("classify_ticket")(service_bus_message(b"not json at all, long enough", message_id="m-1"))
    [row] = rows(services, "fallback")
    assert row["outcome"] == "rejected" and row["raw_body"] == "not json a"
    assert rows(services, "contoso") == []


def test_tenant_property_must_match_the_ticket(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    classify(tenant="fabrikam")
    [row] = rows(azure_services, "fabrikam")
    assert row["outcome"] == "rejected" and row["reason_code"] == "tenant_mismatch" and row["ticket_id"] == "T-1"
    assert aoai_server.calls("chat") == []


@pytest.mark.parametrize("reply", [content_filter_400(), chat_content_filter_finish("partial", "hate")],
                         ids=["prompt-400", "finish-reason"])
def test_content_filter_is_filtered_without_retry(
        azure_services: Services, aoai_server: ScriptedAOAI, reply: Any) -> None:
    aoai_server.script_chat(reply)
    classify()
    [row] = rows(azure_services)
    assert row["outcome"] == "filtered" and row["reason_code"] == "content_filter" and row["analysis"] is None
    assert len(aoai_server.calls("chat")) == 1


def test_refusal_is_recorded(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_refusal("I can't help with that."))
    classify()
    [row] = rows(azure_services)
    assert row["outcome"] == "refused" and "can't help" in row["reason"]


def test_invalid_model_output_is_repaired_once(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    bad = {**ANALYSIS, "category": "sales", "suggested_actions": []}
    aoai_server.script_chat(chat_json(bad, prompt_tokens=500, completion_tokens=50),
                            chat_json(ANALYSIS, prompt_tokens=600, completion_tokens=60))
    classify()
    [row] = rows(azure_services)
    assert row["outcome"] == "classified" and row["repaired"] and row["analysis"]["category"] == "billing"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1100, 110)
    strict, repair = aoai_server.calls("chat")
    assert strict.body["response_format"]["type"] == "json_schema"
    assert repair.body["response_format"] == {"type": "json_object"}
    assert "category" in repair.body["messages"][-1]["content"]  # what was wrong
    assert '"enum":["low","medium","high","critical"]' in repair.body["messages"][0]["content"]  # the schema


def test_output_still_invalid_after_repair_is_failed_not_stored(
        azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_json({**ANALYSIS, "priority": "urgent"}), chat_text("sorry, no JSON"))
    classify()
    [row] = rows(azure_services)
    assert row["outcome"] == "failed" and row["reason_code"] == "schema_violation" and row["analysis"] is None
    assert len(aoai_server.calls("chat")) == 2


def test_output_cut_at_token_limit_is_failed(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(chat_text('{"category": "billing", "prio', finish_reason="length"))
    classify()
    [row] = rows(azure_services)
    assert row["outcome"] == "failed" and "token limit" in row["reason"]


def test_429_then_success(azure_services: Services, aoai_server: ScriptedAOAI) -> None:
    aoai_server.script_chat(rate_limited(retry_after=0.05), chat_json(ANALYSIS))
    classify()
    assert [r["outcome"] for r in rows(azure_services)] == ["classified"]
    assert [c.status for c in aoai_server.calls("chat")] == [429, 200]


@pytest.mark.parametrize("failure", [rate_limited(retry_after=0.01), server_error(503)], ids=["429", "503"])
def test_transient_model_failure_raises_and_redelivery_records_once(
        azure_services: Services, aoai_server: ScriptedAOAI, failure: Any) -> None:
    aoai_server.script_chat(failure, failure, failure)  # model_max_retries=2: three attempts
    with pytest.raises(TransientError):
        classify()
    assert rows(azure_services) == []
    aoai_server.script_chat(chat_json(ANALYSIS))
    classify(delivery_count=2)
    [row] = rows(azure_services)
    assert row["outcome"] == "classified" and row["delivery_count"] == 2


def test_database_down_raises_then_next_delivery_gives_one_row(
        services: Services, make_settings: Any) -> None:
    down = Database("postgresql://ragworker@127.0.0.1:9/ragworker?connect_timeout=1",
                    embedding_dimensions=services.settings.embedding_dimensions, max_size=1, timeout=1.0)
    down.open(run_migrations=False, wait=False)
    set_services(Services(settings=services.settings, db=down, model=services.model))
    try:
        with pytest.raises(PoolTimeout):  # nothing recorded: the platform will redeliver
            classify()
    finally:
        down.close()
        set_services(services)
    classify(delivery_count=2)
    classify(delivery_count=3)
    [row] = rows(services)
    assert row["outcome"] == "classified" and row["model"] == "offline" and row["delivery_count"] == 2


def test_json_mode_fallback_for_servers_without_json_schema(
        make_services: Any, aoai_server: ScriptedAOAI) -> None:
    services = make_services(model_provider="openai", openai_base_url=aoai_server.url + "/v1", model_max_retries=0)
    aoai_server.script_chat(
        json_reply({"error": {"message": "response_format json_schema is not supported", "code": None}}, 400),
        chat_json(ANALYSIS))
    classify()
    [row] = rows(services)
    assert row["outcome"] == "classified"
    strict, fallback = aoai_server.calls("chat")
    assert strict.body["response_format"]["type"] == "json_schema"
    assert fallback.body["response_format"] == {"type": "json_object"}
    assert '"enum":["billing","technical","account","general"]' in fallback.body["messages"][0]["content"]


def test_classification_uses_its_own_deployment(make_services: Any, aoai_server: ScriptedAOAI) -> None:
    services = make_services(model_provider="azure", azure_openai_endpoint=aoai_server.url,
                             azure_openai_api_key="k", classification_deployment="tickets-mini",
                             chat_deployment="answers-4o", model_max_retries=0)
    aoai_server.script_chat(chat_json(ANALYSIS))
    classify()
    assert aoai_server.calls("chat")[0].path == "/openai/deployments/tickets-mini/chat/completions"
    assert rows(services)[0]["model"] == "tickets-mini"
