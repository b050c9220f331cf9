"""/api/ask end to end on the offline provider: answers, refusals, tenants, limits, streaming."""

from __future__ import annotations

import json

import psycopg
import pytest

from shared.llm.grounding import NO_ANSWER
from shared.runtime import Services
from tests.support.ask import ask, post, read_events
from tests.support.seed import seed_document, seed_samples


@pytest.fixture
def docs(services: Services) -> dict[str, list[int]]:
    return seed_samples(services, "acme")


def _content(services: Services, tenant: str, chunk_id: int) -> str:
    with services.db.tenant(tenant) as conn:
        row = conn.execute("SELECT content FROM chunks WHERE id = %s", (chunk_id,)).fetchone()
    return str(row[0]) if row else ""


@pytest.mark.parametrize(("question", "document", "fact"), [
    ("How long is the refund window?", "billing-faq.md", "cancel within **30 days**"),
    ("When does an account lock?", "account-security.md", "after 5 consecutive failed sign-in attempts"),
])
def test_demo_questions_are_answered_with_citations(services: Services, docs: dict[str, list[int]], question: str,
                                                    document: str, fact: str) -> None:
    status, body = ask(question)
    assert status == 200, body
    assert body["grounded"] and body["removed_citations"] == [] and body["answer"] != NO_ANSWER
    first = body["citations"][0]
    assert first["document"] == document and fact in _content(services, "acme", first["chunk_id"])
    for citation in body["citations"]:
        assert f"[{citation['n']}]" in body["answer"]
        assert citation["chunk_id"] in docs[citation["document"]]
        assert citation["blob_path"] == f"documents/acme/{citation['document']}"
    assert body["usage"]["model"] == "offline" and body["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("question", [
    "What is the capital of Peru?", "How do I bake sourdough bread?", "Who won the 1998 football world cup?",
])
def test_unrelated_question_gets_no_answer(docs: dict[str, list[int]], question: str) -> None:
    status, body = ask(question)
    assert status == 200
    assert body["answer"] == NO_ANSWER
    assert body["citations"] == [] and not body["grounded"]


def test_tenant_never_sees_another_tenants_chunk(services: Services) -> None:
    secret = "The vault override code for the Bravo datacenter is 4417-ZEPHYR."
    seed_document(services, "bravo", "documents/bravo/vault.md", [secret])
    seed_document(services, "acme", "documents/acme/intro.md", ["Acme sells backup software for datacenters."])
    status, body = ask(secret, tenant="acme")
    assert status == 200 and body["answer"] == NO_ANSWER and body["citations"] == []
    status, body = ask(secret, tenant="bravo")
    assert status == 200 and "4417-ZEPHYR" in body["answer"]
    assert body["citations"][0]["blob_path"] == "documents/bravo/vault.md"


def test_sql_in_the_question_is_only_text(services: Services, docs: dict[str, list[int]]) -> None:
    for question in ("'; DROP TABLE chunks; --", "refund window'); DELETE FROM documents; --"):
        status, body = ask(question, filters={"document": "x'; DROP TABLE documents; --"})
        assert status == 200 and body["answer"] == NO_ANSWER
    status, body = ask("'; DROP TABLE chunks; --")
    assert status == 200
    status, body = ask("How long is the refund window?")
    assert status == 200 and body["citations"][0]["document"] == "billing-faq.md"
    with psycopg.connect(services.db.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == sum(len(v) for v in docs.values())
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == len(docs)


def test_filters_restrict_the_sources(docs: dict[str, list[int]]) -> None:
    _, body = ask("When does an account lock?", filters={"document": "billing-faq.md"})
    assert all(c["document"] == "billing-faq.md" for c in body["citations"])
    _, body = ask("When does an account lock?", filters={"document": "documents/acme/account-security.md"})
    assert {c["document"] for c in body["citations"]} == {"account-security.md"}
    _, body = ask("How long is the refund window?", filters={"path_prefix": "documents/acme/billing"})
    assert {c["document"] for c in body["citations"]} == {"billing-faq.md"}
    _, body = ask("How long is the refund window?", filters={"path_prefix": "documents/other/"})
    assert body["answer"] == NO_ANSWER


def test_streaming_yields_tokens_then_a_final_event(docs: dict[str, list[int]]) -> None:
    response = post({"question": "How long is the refund window?", "stream": True})
    assert response.media_type == "text/event-stream"
    events = read_events(response)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"token"} and len(kinds) > 3
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    final = events[-1][1]
    assert "[1]" in streamed and final["answer"] == streamed.strip()
    assert final["citations"] and final["usage"]["total_tokens"] > 0


def test_streamed_no_answer(docs: dict[str, list[int]]) -> None:
    events = read_events(post({"question": "What is the capital of Peru?", "stream": True}))
    assert [k for k, _ in events] == ["token", "done"]
    assert events[0][1]["text"] == NO_ANSWER and events[1][1]["citations"] == []


@pytest.mark.parametrize(("body", "raw", "headers", "status", "code"), [
    (None, b"not json", None, 400, "invalid_input"),
    ({"question": ""}, None, None, 400, "invalid_input"),
    ({"q": "refunds?"}, None, None, 400, "invalid_input"),
    ({"question": "refunds?", "top_k": 0}, None, None, 400, "invalid_input"),
    ({"question": "refunds?", "top_k": 21}, None, None, 400, "invalid_input"),
    ({"question": "refunds?", "unexpected": 1}, None, None, 400, "invalid_input"),
    ({"question": "refunds?"}, None, {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ({"question": "x" * 2001}, None, None, 413, "too_large"),
    ({"question": "refunds?", "history": [{"role": "user", "content": "word " * 3000}]}, None, None, 413,
     "too_large"),
    (None, b'{"question": "' + b"x" * 300_000 + b'"}', None, 413, "too_large"),
])
def test_bad_requests_get_problem_bodies(services: Services, body: object, raw: bytes | None,
                                         headers: dict[str, str] | None, status: int, code: str) -> None:
    response = post(body, raw_body=raw, headers=headers)
    assert response.status_code == status
    assert response.media_type == "application/problem+json"
    problem = json.loads(bytes(response.body))
    assert problem["status"] == status and problem["code"] == code and problem["detail"]


def test_history_is_passed_to_the_model(docs: dict[str, list[int]]) -> None:
    status, body = ask("How long is the refund window?",
                       history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}])
    assert status == 200 and body["citations"][0]["document"] == "billing-faq.md"
