"""Ticket outcomes in PostgreSQL: one row per (tenant, message id), written once.

Every function takes a connection from ``db.tenant(...)``, so row-level security scopes
each statement to the caller's tenant; none of them commits (the caller's transaction does).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from shared.llm.types import Usage

OutcomeKind = Literal["classified", "rejected", "filtered", "refused", "failed"]
_COLUMNS = (
    "message_id", "tenant_id", "ticket_id", "outcome", "reason_code", "reason", "raw_body", "analysis",
    "model", "prompt_version", "prompt_sha256", "prompt_tokens", "completion_tokens", "cost_usd",
    "latency_ms", "delivery_count", "repaired",
)
_SELECT = sql.SQL("SELECT {}, created_at FROM ticket_outcomes ").format(
    sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)))
_INSERT = sql.SQL(
    "INSERT INTO ticket_outcomes ({}) VALUES ({}) ON CONFLICT (tenant_id, message_id) DO NOTHING"
).format(sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)), sql.SQL(", ").join(map(sql.Placeholder, _COLUMNS)))
_ANALYSIS_ORDER = ("category", "priority", "summary", "suggested_actions", "estimated_resolution_hours")
_LATEST = sql.SQL("WHERE ticket_id = %s ORDER BY created_at DESC, message_id LIMIT 1")
_LATEST_CLASSIFIED = sql.SQL(
    "WHERE ticket_id = %s AND outcome = 'classified' ORDER BY created_at DESC, message_id LIMIT 1")


class TicketOutcome(BaseModel):
    """What happened to one delivered message; the row and the read-back share this shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(min_length=1, max_length=128)
    tenant_id: str
    ticket_id: str | None = None
    outcome: OutcomeKind
    reason_code: str | None = None
    reason: str | None = None
    raw_body: str | None = None
    analysis: dict[str, Any] | None = None
    model: str | None = None
    prompt_version: str | None = None
    prompt_sha256: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int | None = None
    delivery_count: int | None = None
    repaired: bool = False
    created_at: datetime | None = None

    @property
    def usage(self) -> Usage | None:
        """Model usage of this outcome (None when no model was called)."""
        if self.model is None:
            return None
        return Usage(model=self.model, prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                     cost_usd=self.cost_usd, calls=2 if self.repaired else 1)

    def public(self) -> dict[str, Any]:
        """The read-back view: no raw body, usage grouped like every other response."""
        usage = self.usage
        return {
            **self.model_dump(mode="json", exclude={"raw_body", "prompt_tokens", "completion_tokens", "cost_usd"}),
            "usage": usage.model_dump() if usage else None,
        }


def find(conn: Connection[Any], message_id: str) -> TicketOutcome | None:
    """The outcome already recorded for this message id, if any."""
    return _one(conn, _SELECT + sql.SQL("WHERE message_id = %s"), (message_id,))


def insert(conn: Connection[Any], outcome: TicketOutcome) -> bool:
    """Record the outcome unless one exists for the message id; True when this call wrote it."""
    values = outcome.model_dump(include=set(_COLUMNS))
    values["analysis"] = Jsonb(values["analysis"]) if values["analysis"] is not None else None
    return conn.execute(_INSERT, values).rowcount == 1


def latest_outcome(conn: Connection[Any], ticket_id: str) -> TicketOutcome | None:
    """The most recent outcome of any kind for a ticket id in the current tenant."""
    return _one(conn, _SELECT + _LATEST, (ticket_id,))


def get_analysis(conn: Connection[Any], ticket_id: str) -> dict[str, Any] | None:
    """The latest classified analysis for a ticket id in the current tenant (for answering tools)."""
    found = _one(conn, _SELECT + _LATEST_CLASSIFIED, (ticket_id,))
    if found is None or found.analysis is None:
        return None
    return {"ticket_id": ticket_id, **found.analysis, "model": found.model,
            "prompt_version": found.prompt_version,
            "classified_at": found.created_at.isoformat() if found.created_at else None}


def _one(conn: Connection[Any], query: sql.Composed, params: tuple[Any, ...]) -> TicketOutcome | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        row = cursor.execute(query, params).fetchone()
    if row is None:
        return None
    row["cost_usd"] = float(row["cost_usd"])
    if row["analysis"] is not None:  # jsonb reorders keys; give them back in schema order
        row["analysis"] = {k: row["analysis"][k] for k in sorted(row["analysis"], key=_field_rank)}
    return TicketOutcome.model_validate(row)


def _field_rank(key: str) -> int:
    return _ANALYSIS_ORDER.index(key) if key in _ANALYSIS_ORDER else len(_ANALYSIS_ORDER)
