"""Shared fixtures: a real embedded PostgreSQL + pgvector, real Azurite, a scripted model server.

Nothing of ours is mocked; only the model's answers are scripted, over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scripts.azurite import Azurite
from shared.config import Settings, load_settings
from shared.db import embedded
from shared.runtime import Services, set_services
from tests.support.aoai_server import ScriptedAOAI

pytest_plugins = ["tests.support.fixtures"]

TENANT_TABLES = ("chunks", "documents", "ticket_outcomes")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One data dir per run: the embedded server starts once and every Services shares it."""
    yield tmp_path_factory.mktemp("rw")
    embedded.stop_all()  # while the directory is still there, rather than at interpreter exit


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite")) as emulator:
        yield emulator


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(data_dir: Path) -> SettingsFactory:
    """Settings for a test: embedded database, offline model, unless overridden."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "model_provider": "offline",
            "database_url": None,
            "allow_tenant_header": True,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


def _wipe(services: Services) -> None:
    with psycopg.connect(services.db.url, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
        tables = [t for t in existing if t != "schema_migrations"]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in sorted(tables)) + " RESTART IDENTITY CASCADE")


@pytest.fixture
def make_services(make_settings: SettingsFactory) -> Iterator[Callable[..., Services]]:
    """Build Services (installed process-wide for the function handlers); wiped and closed after."""
    built: list[Services] = []

    def build(**overrides: Any) -> Services:
        services = Services.build(make_settings(**overrides))
        _wipe(services)
        set_services(services)
        built.append(services)
        return services

    yield build
    set_services(None)
    for services in built:
        _wipe(services)
        services.close()


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    """Offline provider, embedded database."""
    return make_services()


@pytest.fixture
def azure_services(make_services: Callable[..., Services], aoai_server: ScriptedAOAI) -> Services:
    """Azure OpenAI provider pointed at the scripted server over real HTTP."""
    return make_services(
        model_provider="azure",
        azure_openai_endpoint=aoai_server.url,
        azure_openai_api_key="test-key",
        model_max_retries=2,
        model_timeout_seconds=10,
    )
