"""Ticket commands: publish a JSONL file to the queue, replay the dead-letter queue, classify locally.

    python -m shared tickets publish samples/tickets.jsonl
    python -m shared tickets replay-dlq --max 100
    python -m shared tickets classify-file samples/tickets.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.config import get_settings
from shared.errors import RagworkerError


def register(commands: Any) -> None:
    tickets = commands.add_parser("tickets", help="publish, replay or classify support tickets")
    sub = tickets.add_subparsers(dest="tickets_command", required=True)
    publish = sub.add_parser("publish", help="send a JSONL file of tickets to TICKETS_QUEUE")
    publish.add_argument("file", type=Path)
    publish.add_argument("--dry-run", action="store_true", help="validate and build the messages, send nothing")
    publish.set_defaults(handler=_publish)
    replay = sub.add_parser("replay-dlq", help="move dead-lettered ticket messages back to the queue")
    replay.add_argument("--max", type=int, default=1000, help="most messages to move")
    replay.add_argument("--wait", type=float, default=5.0, help="seconds to wait for more messages")
    replay.set_defaults(handler=_replay)
    local = sub.add_parser("classify-file", help="run the classification service locally over a JSONL file")
    local.add_argument("file", type=Path)
    local.set_defaults(handler=_classify_file)


def _publish(args: argparse.Namespace) -> int:
    from azure.servicebus.exceptions import ServiceBusError

    from shared.classification.publisher import build_messages, load_tickets, publish

    settings = get_settings()
    try:
        tickets = load_tickets(args.file.read_text("utf-8").splitlines(), settings)
        messages = build_messages(tickets, settings.default_tenant)
        if args.dry_run:
            print(f"{len(messages)} messages built; nothing sent (--dry-run)")
            return 0
        batches = publish(messages, settings)
    except RagworkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceBusError as exc:  # nothing was sent from the batch that failed
        print(f"error: Service Bus: {exc}", file=sys.stderr)
        return 1
    print(f"sent {len(messages)} tickets to '{settings.tickets_queue}' in {batches} batch(es)")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from azure.servicebus.exceptions import ServiceBusError

    from shared.classification.deadletter import replay_dead_letters

    try:
        moved = replay_dead_letters(get_settings(), max_messages=args.max, wait_seconds=args.wait)
    except RagworkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ServiceBusError as exc:
        print(f"error: Service Bus: {exc}", file=sys.stderr)
        return 1
    print(f"replayed {moved} dead-lettered message(s)")
    return 0


def _classify_file(args: argparse.Namespace) -> int:
    from shared.classification.publisher import load_tickets
    from shared.classification.service import Delivery, TicketClassifier
    from shared.llm.types import Usage
    from shared.runtime import get_services

    services = get_services()
    try:
        tickets = load_tickets(args.file.read_text("utf-8").splitlines(), services.settings)
    except RagworkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    classifier = TicketClassifier(services)
    total = Usage(model=services.model.model_for("classification"), calls=0)
    for ticket in tickets:
        body = ticket.model_dump_json(exclude_none=True).encode()
        result = classifier.handle(Delivery(message_id=ticket.id, body=body, tenant=ticket.tenant))
        print(json.dumps({**result.outcome.public(), "duplicate": result.duplicate}, indent=2))
        if result.outcome.usage and not result.duplicate:
            total = total + result.outcome.usage
    print(f"{len(tickets)} tickets, {total.calls} model calls, {total.prompt_tokens} prompt + "
          f"{total.completion_tokens} completion tokens, ~${total.cost_usd:.6f}", file=sys.stderr)
    return 0
