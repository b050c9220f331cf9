"""The full-text side table: kept in sync with chunks, and never a way around tenant isolation.

The app's identity reads ``chunk_fulltext`` only through ``ragworker_text_candidates``. Where
migrations run as an admin (Azure), the app's login has no privilege on the table itself; a
separate non-owner login role simulates that here on the embedded server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from azure.storage.blob import ContainerClient
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from shared.db.database import Database
from shared.db.migrate import _grant
from shared.ingestion.operations import backfill, reconcile
from shared.ingestion.reembed import stage, switch, target_settings
from shared.retrieval import search
from shared.runtime import Services
from tests.support.ingest import container, markdown_doc, upload
from tests.support.seed import seed_document

__all__ = ["container"]

_CANDIDATES = "SELECT id FROM ragworker_text_candidates(%s, %s, 100, NULL) ORDER BY rank"


def _side_rows(services: Services) -> dict[int, str]:
    """chunk id -> tenant of every side-table row, read by the owning role (the embedded app role)."""
    with psycopg.connect(services.db.url) as conn:
        return {int(r[0]): str(r[1]) for r in conn.execute("SELECT chunk_id, tenant_id FROM chunk_fulltext")}


def _chunk_rows(services: Services, tenants: list[str]) -> dict[int, str]:
    rows: dict[int, str] = {}
    for tenant in tenants:
        with services.db.tenant(tenant) as conn:
            rows.update({int(r[0]): tenant for r in conn.execute("SELECT id FROM chunks")})
    return rows


def _texts(services: Services, tenant: str, words: str) -> list[int]:
    with services.db.tenant(tenant) as conn:
        return [int(r[0]) for r in conn.execute(_CANDIDATES, (tenant, search.text_query(words)))]


def test_side_table_follows_ingestion_deletes_and_reembedding(make_services: Any, azurite: Any,
                                                             container: ContainerClient) -> None:
    services = make_services(documents_storage=azurite.connection_string)
    upload(container, "acme/a.md", markdown_doc(sections=3))
    upload(container, "globex/b.md", markdown_doc(sections=2, seed=3))
    backfill(services, container)  # ingestion's INSERT ... SELECT from its staging table
    assert _side_rows(services) == _chunk_rows(services, ["acme", "globex"]) != {}
    assert _texts(services, "acme", "billing policies") and not _texts(services, "acme", "encryption")

    upload(container, "acme/a.md", markdown_doc(sections=2, seed=5))  # replaced: old chunks deleted
    backfill(services, container)
    assert _side_rows(services) == _chunk_rows(services, ["acme", "globex"])
    assert _texts(services, "acme", "encryption") and not _texts(services, "acme", "billing")

    original = services.settings.embedding_dimensions
    try:  # a dimension switch retypes the column and rebuilds its index: the triggers stay
        target = target_settings(services.settings, services.settings.embedding_deployment, 384)
        stage(services, target)
        switch(services, target)
    finally:
        back = target_settings(services.settings, services.settings.embedding_deployment, original)
        stage(services, back)
        switch(services, back)
    upload(container, "globex/c.md", markdown_doc(sections=1, seed=9))
    backfill(services, container)
    assert _side_rows(services) == _chunk_rows(services, ["acme", "globex"])

    container.delete_blob("globex/b.md")
    reconcile(services, container)  # the document row goes; its chunks and their text cascade
    assert _side_rows(services) == _chunk_rows(services, ["acme", "globex"])
    with services.db.tenant("acme") as conn:
        conn.execute("UPDATE chunks SET content = 'zymurgy handbook' WHERE ordinal = 0")
    assert len(_texts(services, "acme", "zymurgy")) == 1


def test_stop_words_alone_match_nothing(make_services: Any) -> None:
    """Only the tenant lexeme would be left of the query: that must not match every chunk."""
    services = make_services()
    seed_document(services, "acme", "documents/acme/a.md", ["The cat sat.", "A dog ran."])
    assert _texts(services, "acme", "cat") and _texts(services, "acme", "the a of") == []


@pytest.fixture
def app_login(make_services: Any) -> Iterator[tuple[Services, str]]:
    """Services plus the URL of a login that is not the tables' owner and got the app's grants."""
    services = make_services()
    role = f"rw_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(services.db.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS").format(sql.Identifier(role)))
    with psycopg.connect(services.db.url, autocommit=True) as conn:  # as the owner, like migrations in Azure
        _grant(conn, role)
    params = conninfo_to_dict(services.db.url)
    params["user"] = role
    yield services, make_conninfo("", **params)
    with psycopg.connect(services.db.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_non_owner_app_login_sees_only_its_tenant(app_login: tuple[Services, str]) -> None:
    services, url = app_login
    acme = seed_document(services, "acme", "documents/acme/a.md", ["Restore a vault from backup.", "Billing."])
    seed_document(services, "globex", "documents/globex/b.md", ["Restore the globex vault from backup."])
    with psycopg.connect(url) as conn:
        for statement in ("SELECT count(*) FROM chunk_fulltext", "DELETE FROM chunk_fulltext",
                          "INSERT INTO chunk_fulltext VALUES (1, 'acme', 1, 'x')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        # no tenant scope: nothing, whichever tenant is asked for (fail-closed)
        assert conn.execute(_CANDIDATES, ("globex", "restore")).fetchall() == []
        with conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', 'acme', true)")
            assert [r[0] for r in conn.execute(_CANDIDATES, ("acme", "restore or vault"))] == [acme[0]]
            assert conn.execute(_CANDIDATES, ("globex", "restore or vault")).fetchall() == []

    db = Database(url, embedding_dimensions=services.settings.embedding_dimensions, max_size=1)
    db.open(run_migrations=False)
    try:  # the whole service path as this login: writes go through the triggers, reads stay scoped
        other = Services(settings=services.settings, db=db, model=services.model)
        added = seed_document(other, "acme", "documents/acme/c.md", ["Vault restore checklist."])
        vector = services.model.embed(["restore vault"]).vectors[0]
        with db.tenant("acme") as conn:
            search.configure_session(conn, services.settings)
            hits = search.hybrid_search(conn, tenant_id="acme", vector=vector, question="restore vault",
                                        top_k=10, candidates=40, rrf_k=60)
        assert {h.chunk_id for h in hits} <= set(acme + added) and added[0] in {h.chunk_id for h in hits}
        assert all(h.ranks.get("text") for h in hits if h.chunk_id in (acme[0], added[0]))
    finally:
        db.close()
