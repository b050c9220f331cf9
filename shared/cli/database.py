"""Database commands: apply migrations (the deployment hook runs this)."""

from __future__ import annotations

import argparse
from typing import Any

from shared.config import get_settings
from shared.db import Database


def register(commands: Any) -> None:
    cmd = commands.add_parser("migrate", help="apply pending schema migrations")
    cmd.add_argument("--app-role", help="grant the app's database role access (when migrating as an admin)")
    cmd.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    db = Database.from_settings(get_settings())
    applied = db.migrate(app_role=args.app_role)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0
