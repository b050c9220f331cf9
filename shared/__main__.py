"""``python -m shared``: operator commands for every capability."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import shared.cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared", description="ragworker operator commands")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in sorted(m.name for m in pkgutil.iter_modules(shared.cli.__path__)):
        importlib.import_module(f"shared.cli.{module}").register(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
