"""Connections for a unit of work, always scoped to one tenant.

Row-level security policies read ``app.tenant_id``; :meth:`Database.tenant` sets it with
``set_config(..., is_local => true)`` inside the transaction, so it cannot leak to the next
user of a pooled connection and a forgotten scope returns no rows rather than all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pgvector.psycopg import register_vector
from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from shared.config import Settings
from shared.db import embedded
from shared.db.migrate import migrate

log = logging.getLogger(__name__)
Conn = Connection[tuple[Any, ...]]


class Database:
    """A connection pool plus tenant-scoped transactions."""

    def __init__(
        self,
        url: str,
        *,
        embedding_dimensions: int,
        max_size: int = 8,
        password_provider: Callable[[], str] | None = None,
        admin_url: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.url = url
        self.admin_url = admin_url or url
        self.embedding_dimensions = embedding_dimensions
        self._password_provider = password_provider
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max_size, open=False, kwargs=self._kwargs,
            configure=_configure, name="ragworker", timeout=timeout,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Embedded server when DATABASE_URL is unset; an Entra token when it has no password."""
        if not settings.database_url:
            url = embedded.start(settings.data_dir / "pg")
            return cls(url, embedding_dimensions=settings.embedding_dimensions,
                       max_size=settings.database_pool_max_size, timeout=settings.database_pool_timeout_seconds,
                       admin_url=embedded.admin_url(settings.data_dir / "pg"))
        provider = None
        if not conninfo_to_dict(settings.database_url).get("password"):
            provider = _entra_password(settings.database_entra_scope, settings.azure_client_id)
        return cls(settings.database_url, embedding_dimensions=settings.embedding_dimensions,
                   max_size=settings.database_pool_max_size, password_provider=provider,
                   timeout=settings.database_pool_timeout_seconds)

    def _kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"autocommit": True}
        if self._password_provider is not None:
            kwargs["password"] = self._password_provider()  # fresh token for every new connection
        return kwargs

    def open(self, *, run_migrations: bool = True, wait: bool = True) -> Database:
        """Migrate if asked, then open the pool; ``wait=False`` opens even when the server is down."""
        if run_migrations:
            self.migrate()
        self._pool.open(wait=wait, timeout=30.0)
        return self

    def migrate(self, app_role: str | None = None) -> list[str]:
        with Connection.connect(self.url, **self._kwargs()) as conn:
            applied = migrate(conn, embedding_dimensions=self.embedding_dimensions, app_role=app_role)
        if applied:
            log.info("applied migrations %s", ", ".join(applied))
        return applied

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def tenant(self, tenant_id: str) -> Iterator[Conn]:
        """One transaction in which row-level security sees only ``tenant_id``."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant_id,))
            yield conn

    @contextmanager
    def unscoped(self) -> Iterator[Conn]:
        """A transaction with no tenant: tenant tables read as empty; for shared tables only."""
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    def ping(self) -> str:
        with self.unscoped() as conn:
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        return f"postgresql ok, pgvector {row[0] if row else 'missing'}"


def _configure(conn: Conn) -> None:
    register_vector(conn)


def _entra_password(scope: str, client_id: str | None) -> Callable[[], str]:
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(managed_identity_client_id=client_id)
    return lambda: credential.get_token(scope).token
