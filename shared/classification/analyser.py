"""The model step alone: one ticket in, one outcome out, nothing stored.

Split from the service so the evaluation runs exactly what production runs, without a
database. Permanent model problems become outcomes here; transient ones propagate.
"""

from __future__ import annotations

import time

from shared.classification.models import Ticket, analysis_model
from shared.classification.prompts import load_prompt
from shared.classification.store import OutcomeKind, TicketOutcome
from shared.config import Settings
from shared.errors import ContentFilteredError, PermanentError, RefusalError
from shared.llm.base import ModelClient

_MAX_REASON_CHARS = 1000


class TicketAnalyser:
    """Prompt version, schema and model client for the classification role."""

    def __init__(self, settings: Settings, model: ModelClient, *, prompt_version: str | None = None) -> None:
        self._model = model
        self.schema = analysis_model(settings)
        self.prompt = load_prompt(settings, prompt_version)

    def analyse(self, ticket: Ticket, tenant: str, message_id: str, delivery_count: int | None = None) \
            -> TicketOutcome:
        """``classified`` with a validated analysis, or ``filtered``/``refused``/``failed`` with a reason."""
        base = {"message_id": message_id, "tenant_id": tenant, "ticket_id": ticket.id,
                "prompt_version": self.prompt.version, "prompt_sha256": self.prompt.sha256,
                "delivery_count": delivery_count}
        started = time.perf_counter()
        kind: OutcomeKind
        error: PermanentError
        try:
            parsed = self._model.parse(self.prompt.messages(ticket), self.schema, role="classification")
        except ContentFilteredError as exc:
            kind, error = "filtered", exc
        except RefusalError as exc:
            kind, error = "refused", exc
        except PermanentError as exc:  # schema violation after repair, length cut-off, request rejected
            kind, error = "failed", exc
        else:
            usage = parsed.usage
            return TicketOutcome(
                **base, outcome="classified", analysis=parsed.value.model_dump(mode="json"), model=usage.model,
                prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                cost_usd=usage.cost_usd, latency_ms=_ms(started), repaired=parsed.repaired,
            )
        return TicketOutcome(**base, outcome=kind, model=self._model.model_for("classification"),
                             reason_code=error.code, reason=error.reason[:_MAX_REASON_CHARS], latency_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
