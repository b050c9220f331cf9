"""``GET /api/tickets/{id}``: the stored outcome of a ticket, for the caller's tenant only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from shared.classification import store
from shared.errors import InvalidInputError, NotFoundError
from shared.identity import tenant_from_headers
from shared.runtime import Services

_TICKET_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


def ticket_record(headers: Mapping[str, str], ticket_id: str, services: Services | None = None) -> dict[str, Any]:
    """The latest outcome for ``ticket_id`` (analysis, usage, prompt version); NotFoundError if none.

    The tenant comes from the authenticated principal and the query runs under row-level
    security, so another tenant's ticket with the same id reads as absent, not forbidden.
    """
    from shared.runtime import get_services

    services = services or get_services()
    tenant = tenant_from_headers(headers, services.settings)
    ticket_id = ticket_id.strip()
    if not _TICKET_ID.match(ticket_id):
        raise InvalidInputError("the ticket id must be 1 to 128 printable characters")
    with services.db.tenant(tenant) as conn:
        found = store.latest_outcome(conn, ticket_id)
    if found is None:
        raise NotFoundError(f"no outcome recorded for ticket {ticket_id!r}")
    return found.public()
