"""Replay dead-lettered ticket messages back onto the queue.

A message lands in the dead-letter queue after ``maxDeliveryCount`` transient failures (quota,
outage, database). Once the cause is fixed, replaying is safe: the copy keeps its message id,
so a ticket that did get recorded meanwhile is not classified twice. The copy is sent before
the dead-lettered original is completed: a crash in between replays a message twice, never zero
times. If the queue has duplicate detection on, replays inside its window are dropped by the broker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from shared.classification.publisher import service_bus_client
from shared.config import Settings

if TYPE_CHECKING:
    from azure.servicebus import ServiceBusMessage, ServiceBusReceivedMessage

log = logging.getLogger(__name__)


def replay_copy(
    body: bytes, *, message_id: str | None, application_properties: Mapping[Any, Any] | None,
    content_type: str | None, subject: str | None,
) -> ServiceBusMessage:
    """A fresh message carrying what the consumer reads: body, id, tenant property, content type."""
    from azure.servicebus import ServiceBusMessage

    properties: dict[str | bytes, Any] = {
        (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else v)
        for k, v in (application_properties or {}).items()
    }
    return ServiceBusMessage(body, message_id=message_id, application_properties=properties,
                             content_type=content_type, subject=subject)


def _body_of(message: ServiceBusReceivedMessage) -> bytes:
    body: Any = message.body
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, Iterable):
        return b"".join(bytes(part) for part in body)
    return str(message).encode()


def replay_dead_letters(settings: Settings, *, max_messages: int = 1000, wait_seconds: float = 5.0) -> int:
    """Move up to ``max_messages`` dead-lettered messages back to the queue; returns how many."""
    from azure.servicebus import ServiceBusSubQueue

    moved = 0
    with service_bus_client(settings) as client, \
            client.get_queue_receiver(settings.tickets_queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER,
                                      max_wait_time=wait_seconds) as receiver, \
            client.get_queue_sender(settings.tickets_queue) as sender:
        while moved < max_messages:
            received = receiver.receive_messages(max_message_count=min(50, max_messages - moved),
                                                 max_wait_time=wait_seconds)
            if not received:
                break
            for message in received:
                sender.send_messages(replay_copy(
                    _body_of(message), message_id=message.message_id,
                    application_properties=message.application_properties,
                    content_type=message.content_type, subject=message.subject))
                receiver.complete_message(message)
                log.info("replayed %s (dead-lettered: %s)", message.message_id, message.dead_letter_reason)
                moved += 1
    return moved
