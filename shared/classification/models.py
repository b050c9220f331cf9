"""The ticket a publisher sends and the analysis the model must return.

Category and priority enums come from settings, so :func:`analysis_model` builds the
analysis class at run time (cached per label set). It is always named ``TicketAnalysis``:
that name is the structured-output schema name, and the offline provider recognises it.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from shared.config import Settings
from shared.errors import UnauthorizedError
from shared.identity import valid_tenant

#: Validation keywords that strict structured output on Azure OpenAI rejects. They are
#: dropped from the schema sent to the model (the descriptions state the limits instead);
#: pydantic still enforces them on the reply, and a violation gets the one repair round.
_UNPORTABLE_KEYWORDS = (
    "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
)
_NO_CONTROL_CHARS = r"^[^\x00-\x1f\x7f]+$"
_Action = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class TicketLimits(BaseModel):
    """Size limits from settings, passed to :class:`Ticket` as validation context."""

    max_subject_chars: int = 300
    max_body_chars: int = 20_000

    @classmethod
    def from_settings(cls, settings: Settings) -> TicketLimits:
        return cls(max_subject_chars=settings.max_ticket_subject_chars,
                   max_body_chars=settings.max_ticket_body_chars)


class Ticket(BaseModel):
    """A support ticket as published to the queue (``label`` and other extras are refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    id: str = Field(min_length=1, max_length=128, pattern=_NO_CONTROL_CHARS)
    tenant: str | None = Field(None, max_length=128)
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    customer: str | None = Field(None, max_length=320)
    channel: str | None = Field(None, max_length=32, pattern=_NO_CONTROL_CHARS)
    created_at: datetime | None = None

    @field_validator("tenant")
    @classmethod
    def _tenant_alphabet(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return valid_tenant(value)
        except UnauthorizedError as exc:
            raise ValueError(exc.reason) from None

    @model_validator(mode="after")
    def _within_limits(self, info: ValidationInfo) -> Ticket:
        limits = info.context if isinstance(info.context, TicketLimits) else TicketLimits()
        if len(self.subject) > limits.max_subject_chars:
            raise ValueError(f"subject is longer than {limits.max_subject_chars} characters")
        if len(self.body) > limits.max_body_chars:
            raise ValueError(f"body is longer than {limits.max_body_chars} characters")
        return self

    @classmethod
    def parse(cls, raw: bytes | str, limits: TicketLimits) -> Ticket:
        return cls.model_validate_json(raw, context=limits)


def _portable_schema(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        for keyword in _UNPORTABLE_KEYWORDS:
            prop.pop(keyword, None)
        items = prop.get("items")
        if isinstance(items, dict):
            for keyword in _UNPORTABLE_KEYWORDS:
                items.pop(keyword, None)


class TicketAnalysisBase(BaseModel):
    """Fields whose shape does not depend on settings; see :func:`analysis_model`."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_portable_schema)

    category: str
    priority: str
    summary: str
    suggested_actions: list[str]
    estimated_resolution_hours: float


@lru_cache(maxsize=8)
def _build(categories: tuple[str, ...], priorities: tuple[str, ...], summary_max: int,
           hours_max: float) -> type[TicketAnalysisBase]:
    literal = cast(Any, Literal)
    return create_model(
        "TicketAnalysis",
        __base__=TicketAnalysisBase,
        __module__=__name__,
        category=(literal[categories], Field(description="The one category that fits the ticket best.")),
        priority=(literal[priorities], Field(
            description="Business impact, from the lowest to the highest: " + ", ".join(priorities) + ".")),
        summary=(str, Field(min_length=1, max_length=summary_max,
                            description=f"One neutral sentence, at most {summary_max} characters.")),
        suggested_actions=(list[_Action], Field(
            min_length=1, max_length=5,
            description="1 to 5 concrete next steps for the support agent, each under 200 characters.")),
        estimated_resolution_hours=(float, Field(
            ge=0.25, le=hours_max, description=f"Hours to resolve, between 0.25 and {hours_max:g}.")),
    )


def analysis_model(settings: Settings) -> type[TicketAnalysisBase]:
    """The ``TicketAnalysis`` class for the configured categories, priorities and limits."""
    return _build(tuple(settings.ticket_categories), tuple(settings.ticket_priorities),
                  settings.ticket_summary_max_chars, settings.ticket_max_resolution_hours)
