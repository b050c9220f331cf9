"""Classify one delivered ticket message into exactly one recorded outcome.

Permanent problems become outcomes and the message completes: an invalid ticket is
``rejected`` (no model call), the content filter gives ``filtered``, a refusal ``refused``,
output that stays invalid after the repair round ``failed``. Transient problems (quota after
retries, 5xx, timeouts, the database) propagate so Service Bus redelivers the message, and
a redelivery of an already recorded message id never calls the model again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from pydantic import ValidationError

from shared.classification import store
from shared.classification.analyser import TicketAnalyser
from shared.classification.models import Ticket, TicketLimits
from shared.classification.store import TicketOutcome
from shared.errors import UnauthorizedError
from shared.identity import valid_tenant
from shared.runtime import Services, get_services
from shared.telemetry import set_attributes, span

log = logging.getLogger(__name__)
_MAX_REASON_CHARS = 1000  # same cap as the analyser's


@dataclass(frozen=True)
class Delivery:
    """One Service Bus delivery, free of the Functions binding types."""

    message_id: str
    body: bytes
    tenant: str | None = None  # the ``tenant`` application property
    delivery_count: int | None = None


@dataclass(frozen=True)
class Result:
    outcome: TicketOutcome
    duplicate: bool = False  # already recorded by an earlier delivery: nothing was called


class TicketClassifier:
    """Validate, de-duplicate, classify and record; one instance serves many messages."""

    def __init__(self, services: Services) -> None:
        self._settings = services.settings
        self._db = services.db
        self._analyser = TicketAnalyser(services.settings, services.model)
        self._prompt = self._analyser.prompt
        self._limits = TicketLimits.from_settings(services.settings)

    def handle(self, delivery: Delivery) -> Result:
        """The unit of work, in one span: tenant (hashed), outcome, model, tokens and cost."""
        with span("classify_ticket", delivery_count=delivery.delivery_count) as current:
            result = self._handle(delivery)
            done, fresh = result.outcome, not result.duplicate
            set_attributes(current, tenant=done.tenant_id, outcome=done.outcome, model=done.model,
                           tokens=done.prompt_tokens + done.completion_tokens if fresh else 0,
                           cost_usd=done.cost_usd if fresh else 0.0, duplicate=result.duplicate,
                           prompt_version=done.prompt_version, reason_code=done.reason_code)
            return result

    def _handle(self, delivery: Delivery) -> Result:
        # Service Bus always sets one; a body hash keeps redeliveries idempotent if not.
        message_id = delivery.message_id.strip()[:128] or "sha256:" + hashlib.sha256(delivery.body).hexdigest()[:48]
        tenant_property, bad_property = _tenant_property(delivery.tenant)
        default = self._settings.default_tenant
        try:
            ticket = Ticket.parse(delivery.body, self._limits)
        except ValidationError as exc:
            return self._reject(delivery, message_id, tenant_property or default, "invalid_ticket", _describe(exc))
        if bad_property:
            return self._reject(delivery, message_id, default, "invalid_tenant", bad_property, ticket.id)
        if tenant_property and ticket.tenant and tenant_property != ticket.tenant:
            return self._reject(delivery, message_id, tenant_property, "tenant_mismatch",
                                "the ticket's tenant differs from the message's tenant property", ticket.id)
        tenant = tenant_property or ticket.tenant or default
        with self._db.tenant(tenant) as conn:
            existing = store.find(conn, message_id)
        if existing is not None:
            log.info("message %s already recorded as %s; not classified again", message_id, existing.outcome)
            return Result(existing, duplicate=True)
        return self._save(self._analyser.analyse(ticket, tenant, message_id, delivery.delivery_count))

    def _reject(self, delivery: Delivery, message_id: str, tenant: str, code: str, reason: str,
                ticket_id: str | None = None) -> Result:
        raw = delivery.body.decode("utf-8", errors="replace")
        outcome = TicketOutcome(
            message_id=message_id, tenant_id=tenant, ticket_id=ticket_id or _ticket_id_of(raw),
            outcome="rejected", reason_code=code, reason=reason[:_MAX_REASON_CHARS],
            raw_body=raw[: self._settings.rejected_body_max_chars], prompt_version=self._prompt.version,
            delivery_count=delivery.delivery_count,
        )
        return self._save(outcome)  # a redelivered rejected message finds its row: duplicate

    def _save(self, outcome: TicketOutcome) -> Result:
        with self._db.tenant(outcome.tenant_id) as conn:
            if store.insert(conn, outcome):
                stored = store.find(conn, outcome.message_id)
                log.info("message %s: %s %s", outcome.message_id, outcome.outcome, outcome.reason_code or "")
                return Result(stored or outcome)
            existing = store.find(conn, outcome.message_id)  # a concurrent delivery recorded it first
        return Result(existing or outcome, duplicate=True)


def classify_delivery(delivery: Delivery, services: Services | None = None) -> Result:
    """Entry point for the queue trigger and the CLI."""
    return TicketClassifier(services or get_services()).handle(delivery)


def _tenant_property(value: object) -> tuple[str | None, str | None]:
    """(tenant, problem): the property is optional, but a present one must be a valid tenant id."""
    if value is None or value == "":
        return None, None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    try:
        return valid_tenant(text), None
    except UnauthorizedError:
        return None, f"the tenant application property {text[:64]!r} is not a valid tenant id"


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}" if where else str(err["msg"]))
    return "; ".join(parts)


def _ticket_id_of(raw: str) -> str | None:
    """Best effort, so a rejected ticket can still be looked up by its id."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    ticket_id = value.get("id") if isinstance(value, dict) else None
    return ticket_id[:128] if isinstance(ticket_id, str) and ticket_id.strip() else None
