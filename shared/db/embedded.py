"""An embedded PostgreSQL 18 + pgvector for development, the demo and tests.

Used only when DATABASE_URL is unset. The server runs as a subprocess in a data directory
and stops when the process that started it exits. The app connects as a non-superuser role,
because superusers bypass row-level security and tenant isolation must be real here too.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path
from typing import Any

from psycopg import connect, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

APP_ROLE = "ragworker"
APP_DATABASE = "ragworker"
_lock = threading.Lock()
_servers: dict[Path, Any] = {}


def start(data_dir: Path) -> str:
    """Start (or reuse) the server in ``data_dir``; return the app role's connection URL."""
    data_dir = data_dir.resolve()
    with _lock:
        server = _servers.get(data_dir)
        if server is None:
            data_dir.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():  # platformdirs complains when XDG_RUNTIME_DIR is unset (CI, root)
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
                # deferred: a dev/test dependency, absent in Azure
                from pgserver.postgres_server import get_server

                server = get_server(data_dir, cleanup_mode="stop")
            _servers[data_dir] = server
    admin_url = server.get_uri()
    _bootstrap(admin_url)
    params = conninfo_to_dict(admin_url)
    params.update(user=APP_ROLE, dbname=APP_DATABASE, password=None)
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def admin_url(data_dir: Path) -> str:
    """Superuser URL of a started server, for tools that must bypass RLS on purpose."""
    server = _servers[data_dir.resolve()]
    params = conninfo_to_dict(server.get_uri())
    params.update(dbname=APP_DATABASE)
    return make_conninfo("", **params)


def stop_all() -> None:
    """Stop every server this process started (the demo calls this before it exits)."""
    with _lock:
        for server in _servers.values():
            server.cleanup()  # with cleanup_mode="stop" this stops the server and keeps the data
        _servers.clear()


def _bootstrap(admin: str) -> None:
    """Create the app role and database once, with the vector extension installed as superuser."""
    with connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(APP_ROLE)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(APP_DATABASE), sql.Identifier(APP_ROLE)))
    params = conninfo_to_dict(admin)
    params.update(dbname=APP_DATABASE)
    with connect(make_conninfo("", **params), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
