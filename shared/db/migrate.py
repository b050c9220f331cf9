"""Versioned schema migrations: ordered SQL files applied once each, under an advisory lock.

A dozen lines of runner instead of Alembic: the schema is plain SQL (pgvector types, RLS
policies) with no ORM models to diff, and the only template value is the vector dimension.
Concurrent cold starts wait on the lock, so exactly one instance applies each file.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from psycopg import Connection, sql

_LOCK_KEY = 0x7261_6777  # "ragw"
# Tables without FORCEd row-level security that the app's identity must not read directly.
_OWNER_ONLY = ("chunk_fulltext",)


def available() -> list[tuple[str, str]]:
    """(version, sql text) of every migration file, in order."""
    folder = resources.files("shared.db").joinpath("migrations")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text("utf-8")) for f in files]


def migrate(conn: Connection[Any], *, embedding_dimensions: int, app_role: str | None = None) -> list[str]:
    """Apply pending migrations; return the versions applied. ``conn`` must be in autocommit."""
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}
        applied = []
        for version, text in available():
            if version in done:
                continue
            # Migration files ship with the code: they are trusted SQL, not input.
            template = sql.SQL(text)
            statement = template.format(embedding_dimensions=sql.Literal(embedding_dimensions))
            with conn.transaction():
                conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
        if app_role:
            _grant(conn, app_role)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _grant(conn: Connection[Any], role: str) -> None:
    """Let the app's identity use the tables when migrations ran as another (admin) role."""
    ident = sql.Identifier(role)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(ident))
    conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(ident))
    for table in _OWNER_ONLY:  # read only through their owner's functions, which scope the tenant
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        if row and row[0]:
            conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), ident))
