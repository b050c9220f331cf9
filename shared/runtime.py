"""The composition root: settings, database and model client, built once per process.

Triggers, the CLI and the demo all get their collaborators here; tests build their own
:class:`Services` and install it with :func:`set_services`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from shared.config import Settings, get_settings
from shared.db import Database
from shared.llm import ModelClient, build_model_client

_lock = threading.Lock()
_services: Services | None = None


@dataclass
class Services:
    settings: Settings
    db: Database
    model: ModelClient

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Services:
        from shared import telemetry, tokens

        logging.getLogger().setLevel(settings.log_level.upper())
        if telemetry.configure_telemetry(settings.applicationinsights_connection_string):
            telemetry.install_log_correlation()
        tokens.configure(settings.token_cache_dir, settings.token_encoding)
        db = Database.from_settings(settings).open(run_migrations=migrate and settings.auto_migrate)
        return cls(settings=settings, db=db, model=build_model_client(settings))

    def close(self) -> None:
        self.db.close()


def get_services() -> Services:
    """The process-wide services, created on first use (not at import: keeps cold starts light)."""
    global _services
    with _lock:
        if _services is None:
            _services = Services.build(get_settings())
        return _services


def set_services(services: Services | None) -> None:
    """Install (or clear) the process-wide services; for tests and the demo."""
    global _services
    with _lock:
        _services = services
