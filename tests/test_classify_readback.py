"""GET /api/tickets/{id} and the answering tool's get_analysis, on real PostgreSQL with RLS."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from shared.classification import store
from shared.runtime import Services
from tests.support.functions import handler, http_request, service_bus_message

TICKET = {"id": "T-7", "tenant": "contoso", "subject": "Cannot sign in",
          "body": "I am locked out of my account after too many failed sign-in attempts."}


def get(ticket_id: str, tenant: str) -> tuple[int, dict[str, Any], str]:
    request = http_request("GET", f"/api/tickets/{ticket_id}", tenant=tenant, path_params={"id": ticket_id})
    response = asyncio.run(handler("get_ticket")(request))
    return response.status_code, json.loads(bytes(response.body)), response.media_type or ""


def test_stored_analysis_is_returned_to_its_tenant_only(services: Services) -> None:
    handler("classify_ticket")(service_bus_message(TICKET, tenant="contoso"))
    status, body, _ = get("T-7", "contoso")
    assert status == 200
    assert body["outcome"] == "classified" and body["ticket_id"] == "T-7" and body["prompt_version"] == "v2"
    assert body["analysis"]["category"] in services.settings.ticket_categories
    assert list(body["analysis"]) == ["category", "priority", "summary", "suggested_actions",
                                      "estimated_resolution_hours"]
    assert body["usage"]["model"] == "offline" and body["usage"]["calls"] == 1 and "raw_body" not in body
    status, problem, media = get("T-7", "fabrikam")
    assert status == 404 and problem["code"] == "not_found" and media == "application/problem+json"


def test_absent_ticket_is_a_404_problem(services: Services) -> None:
    status, problem, media = get("nope", "contoso")
    assert status == 404 and problem["status"] == 404 and media == "application/problem+json"


def test_rejected_ticket_reads_back_with_its_reason(services: Services) -> None:
    bad = {"id": "T-8", "tenant": "contoso", "subject": "x"}
    handler("classify_ticket")(service_bus_message(bad, tenant="contoso"))
    status, body, _ = get("T-8", "contoso")
    assert status == 200 and body["outcome"] == "rejected" and "body" in body["reason"]
    assert body["analysis"] is None and body["usage"] is None


def test_get_analysis_returns_latest_classified_only(services: Services) -> None:
    handler("classify_ticket")(service_bus_message(TICKET, tenant="contoso"))
    handler("classify_ticket")(service_bus_message({**TICKET, "body": ""}, message_id="T-7#2", tenant="contoso"))
    with services.db.tenant("contoso") as conn:
        analysis = store.get_analysis(conn, "T-7")
        latest = store.latest_outcome(conn, "T-7")
        assert store.get_analysis(conn, "missing") is None
    with services.db.tenant("fabrikam") as conn:
        assert store.get_analysis(conn, "T-7") is None
    assert latest is not None and latest.outcome == "rejected"
    assert analysis is not None and analysis["ticket_id"] == "T-7" and analysis["model"] == "offline"
    assert {"category", "priority", "summary", "suggested_actions", "estimated_resolution_hours"} <= set(analysis)


def test_insert_is_once_per_tenant_and_message_id(services: Services) -> None:
    outcome = store.TicketOutcome(message_id="M-1", tenant_id="contoso", ticket_id="T-1", outcome="rejected",
                                  reason="bad")
    with services.db.tenant("contoso") as conn:
        assert store.insert(conn, outcome) is True
        assert store.insert(conn, outcome.model_copy(update={"reason": "other"})) is False
        found = store.find(conn, "M-1")
    assert found is not None and found.reason == "bad"
    with services.db.tenant("fabrikam") as conn:  # the same ticket id in another tenant is its own ticket
        assert store.insert(conn, outcome.model_copy(update={"tenant_id": "fabrikam"})) is True
