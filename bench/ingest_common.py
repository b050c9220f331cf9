"""Shared set-up for the ingestion benchmarks: a varied corpus and a private embedded database."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shared.config import ROOT, load_settings
from shared.runtime import Services

SAMPLES = ROOT / "samples" / "docs"
_PARAGRAPH_END = re.compile(r"(?m)([.!?])$")


def corpus(megabytes: float, files_per_document: int = 1) -> list[tuple[str, bytes]]:
    """``megabytes`` of Markdown built from the sample manuals; every copy's sentences differ
    (a revision tag per paragraph), so no chunk text repeats and no stored vector is reused.
    ``files_per_document`` sample files are joined into one document (larger documents)."""
    files = _files(megabytes)
    out = []
    for start in range(0, len(files), files_per_document):
        group = files[start:start + files_per_document]
        out.append((group[0][0], b"\n\n".join(data for _, data in group)))
    return out


def _files(megabytes: float) -> list[tuple[str, bytes]]:
    sources = sorted(SAMPLES.glob("*.md"))
    texts = [p.read_text("utf-8") for p in sources]
    out: list[tuple[str, bytes]] = []
    total, copy = 0, 0
    while total < megabytes * 1_000_000:
        for path, text in zip(sources, texts, strict=True):
            data = _vary(text, copy).encode("utf-8")
            out.append((f"copy{copy:04d}/{path.name}", data))
            total += len(data)
        copy += 1
    return out


def _vary(text: str, copy: int) -> str:
    counter = iter(range(1_000_000))
    return _PARAGRAPH_END.sub(lambda m: f"{m.group(1)} Revision {copy}.{next(counter)}.", text)


def bench_services(name: str, **overrides: Any) -> Services:
    """Services on an embedded PostgreSQL under .data/<name> (never the app's or the tests')."""
    values: dict[str, Any] = {"data_dir": ROOT / ".data" / name, "model_provider": "offline",
                              "database_url": None}
    values.update(overrides)
    return Services.build(load_settings(**values))


def wipe(services: Services) -> None:
    """Empty the ingestion tables (as the owning role, so RLS does not hide rows)."""
    import psycopg

    with psycopg.connect(services.db.url, autocommit=True) as conn:
        conn.execute("TRUNCATE chunks, documents, ingestion_blobs, embedding_quota_grants RESTART IDENTITY CASCADE")


_index_definition: list[str] = []


def set_hnsw(services: Services, present: bool) -> None:
    """Drop the chunks HNSW index, or put it back exactly as the migrations defined it."""
    import psycopg

    with psycopg.connect(services.db.url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_get_indexdef(to_regclass('chunks_embedding_idx'))").fetchone()
        if row and row[0] and not _index_definition:
            _index_definition.append(str(row[0]))
        if present and not (row and row[0]):
            if _index_definition:
                conn.execute(_index_definition[0])
            else:
                conn.execute("SELECT ragworker_build_embedding_index(%s)", (services.settings.embedding_dimensions,))
        elif not present:
            conn.execute("DROP INDEX IF EXISTS chunks_embedding_idx")


def hnsw_options() -> str:
    """The WITH (...) options of the app's HNSW index, to give other tables the same graph."""
    match = re.search(r"WITH \((.*)\)", _index_definition[0]) if _index_definition else None
    return f" WITH ({match.group(1)})" if match else ""


def path_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def upload_corpus(connection_string: str, docs: list[tuple[str, bytes]]) -> Any:
    """A fresh ``documents`` container on Azurite holding ``docs``; returns its ContainerClient."""
    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient.from_connection_string(connection_string).get_container_client("documents")
    container.create_container()
    for name, data in docs:
        container.upload_blob(name, data, overwrite=True)
    return container
