"""Publish tickets to the queue: JSONL lines -> validated tickets -> Service Bus messages in batches.

Building messages is pure (tested without a broker); sending only opens a client and
ships the batches. ``message_id`` is the ticket id, which is what makes redelivery and
re-publishing idempotent downstream; the tenant travels as an application property.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from shared.classification.models import Ticket, TicketLimits
from shared.config import Settings
from shared.errors import ConfigurationError, InputTooLargeError, InvalidInputError

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusClient, ServiceBusMessage, ServiceBusMessageBatch

#: Keys a labelled file may carry for evaluation; they are not part of the ticket.
EVALUATION_KEYS = ("label",)


def load_tickets(lines: Iterable[str], settings: Settings) -> list[Ticket]:
    """Validate every line first, so a bad file sends nothing; errors name the line."""
    tickets: list[Ticket] = []
    problems: list[str] = []
    limits = TicketLimits.from_settings(settings)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(tickets) >= settings.publish_max_tickets:
            raise InputTooLargeError(f"more than PUBLISH_MAX_TICKETS={settings.publish_max_tickets} tickets")
        try:
            tickets.append(Ticket.parse(_without_evaluation_keys(line), limits))
        except ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            problems.append(f"line {number}: {'.'.join(map(str, first['loc'])) or 'json'}: {first['msg']}")
    if problems:
        raise InvalidInputError("invalid tickets: " + "; ".join(problems[:10]))
    return tickets


def _without_evaluation_keys(line: str) -> str:
    import json

    try:
        data = json.loads(line)
    except ValueError:
        return line  # let the ticket model report the JSON error
    if isinstance(data, dict):
        for key in EVALUATION_KEYS:
            data.pop(key, None)
        return json.dumps(data)
    return line


def build_messages(tickets: Sequence[Ticket], default_tenant: str) -> list[ServiceBusMessage]:
    """One message per ticket: JSON body, message_id = ticket id, tenant as application property."""
    from azure.servicebus import ServiceBusMessage

    return [
        ServiceBusMessage(
            ticket.model_dump_json(exclude_none=True),
            message_id=ticket.id,
            application_properties={"tenant": ticket.tenant or default_tenant},
            content_type="application/json",
            subject="ticket",
        )
        for ticket in tickets
    ]


def fill_batches(
    messages: Iterable[ServiceBusMessage], new_batch: Callable[[], ServiceBusMessageBatch]
) -> list[ServiceBusMessageBatch]:
    """Pack messages into as few batches as the size limit allows (``sender.create_message_batch``)."""
    from azure.servicebus.exceptions import MessageSizeExceededError

    batches = [new_batch()]
    for message in messages:
        try:
            batches[-1].add_message(message)
        except MessageSizeExceededError:
            if len(batches[-1]) == 0:
                raise InputTooLargeError(f"message {message.message_id} alone exceeds the batch size") from None
            batches.append(new_batch())
            batches[-1].add_message(message)
    return [b for b in batches if len(b) > 0]


def service_bus_client(settings: Settings) -> ServiceBusClient:
    """Identity (namespace + DefaultAzureCredential) when a namespace is set, else the connection string."""
    from azure.servicebus import ServiceBusClient

    if settings.service_bus_namespace:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
        return ServiceBusClient(settings.service_bus_namespace, credential)
    if settings.service_bus_connection:
        return ServiceBusClient.from_connection_string(settings.service_bus_connection)
    raise ConfigurationError(
        "set ServiceBusConnection__fullyQualifiedNamespace (identity) or ServiceBusConnection (connection string)")


def publish(messages: Sequence[ServiceBusMessage], settings: Settings) -> int:
    """Send the messages to TICKETS_QUEUE; returns the number of batches sent."""
    with service_bus_client(settings) as client, client.get_queue_sender(settings.tickets_queue) as sender:
        batches = fill_batches(messages, sender.create_message_batch)
        for batch in batches:
            sender.send_messages(batch)
    return len(batches)
