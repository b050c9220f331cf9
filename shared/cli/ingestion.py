"""Ingestion commands: backfill a container, show status, reconcile deletes, re-embed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from shared.runtime import get_services


def register(commands: Any) -> None:
    cmd = commands.add_parser("backfill", help="ingest every blob of the documents container (idempotent)")
    cmd.add_argument("--prefix", help="only blobs whose name starts with this, e.g. a tenant folder")
    cmd.set_defaults(handler=_backfill)

    cmd = commands.add_parser("status", help="documents by status, chunks and failures, per tenant")
    cmd.add_argument("--tenant", help="one tenant only")
    cmd.set_defaults(handler=_status)

    cmd = commands.add_parser("reconcile", help="remove documents whose blob no longer exists")
    cmd.add_argument("--dry-run", action="store_true", help="list them without removing")
    cmd.set_defaults(handler=_reconcile)

    cmd = commands.add_parser("reembed", help="re-embed every chunk with a new model or dimension, then switch")
    cmd.add_argument("--model", required=True, help="new embedding model / Azure deployment")
    cmd.add_argument("--dimensions", type=int, required=True, help="new vector dimension")
    cmd.add_argument("--stage-only", action="store_true", help="write new vectors beside the old; do not switch")
    cmd.set_defaults(handler=_reembed)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _backfill(args: argparse.Namespace) -> int:
    from shared.ingestion.operations import backfill
    from shared.storage import documents_container

    services = get_services()
    report = backfill(services, documents_container(services.settings), prefix=args.prefix)
    _print(report.model_dump())
    return 1 if report.errors else 0


def _status(args: argparse.Namespace) -> int:
    from shared.ingestion.operations import status

    _print(status(get_services(), args.tenant))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from shared.ingestion.operations import reconcile
    from shared.storage import documents_container

    services = get_services()
    removed = reconcile(services, documents_container(services.settings), dry_run=args.dry_run)
    _print({"dry_run": args.dry_run, "removed": removed})
    return 0


def _reembed(args: argparse.Namespace) -> int:
    from shared.ingestion.reembed import stage, switch, target_settings

    services = get_services()
    target = target_settings(services.settings, args.model, args.dimensions)
    staged = stage(services, target)
    result: dict[str, Any] = {"staged": staged}
    if not args.stage_only:
        result["switched"] = switch(services, target)
        result["next"] = (f"set EMBEDDING_DEPLOYMENT={args.model} and EMBEDDING_DIMENSIONS={args.dimensions} "
                          "in the app settings")
    _print(result)
    return 0
