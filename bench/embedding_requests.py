"""Embedding requests per 1M tokens ingested: packed requests vs one per chunk vs 16 per request.

Real requests over HTTP to the scripted Azure OpenAI server (tests/support/aoai_server.py),
counted on the server; documents on Azurite; the same corpus (~1M tokens of Markdown, about
900 documents of ~1,100 tokens) ingested each time into an emptied ledger. Four runs:

* backfill, packed across documents (EMBEDDING_BATCH_MAX_INPUTS=2048, cap EMBEDDING_BATCH_MAX_TOKENS)
* trigger path, one ``ingest_blob`` per document (packed within each document only)
* 16 inputs per request (EMBEDDING_BATCH_MAX_INPUTS=16), and one per chunk (=1)

Target for the packed run: ceil(tokens / cap) + 1.

    .venv/bin/python -m bench.embedding_requests               # ~1M tokens (~2 min)
    .venv/bin/python -m bench.embedding_requests --mb 1        # quicker
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest_common import bench_services, corpus, set_hnsw, upload_corpus, wipe
from scripts.azurite import Azurite
from shared.ingestion.operations import backfill
from shared.ingestion.service import ingest_blob
from tests.support.aoai_server import ScriptedAOAI

DIMENSIONS = 256  # the scripted server honours `dimensions`; small vectors keep the run about requests


def _services(server: ScriptedAOAI, azurite: Azurite, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "model_provider": "azure", "azure_openai_endpoint": server.url, "azure_openai_api_key": "bench",
        "documents_storage": azurite.connection_string, "embedding_dimensions": DIMENSIONS,
    }
    values.update(overrides)
    return bench_services(f"bench-requests-{DIMENSIONS}", **values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=4.3, help="corpus size (4.3 MB of Markdown is ~1M tokens)")
    args = parser.parse_args()
    docs = corpus(args.mb)
    with ScriptedAOAI(default_dimensions=DIMENSIONS) as server, \
            Azurite(Path(tempfile.mkdtemp(prefix="bench-azurite-"))) as azurite:
        container = upload_corpus(azurite.connection_string, docs)
        runs: list[tuple[str, dict[str, Any], str]] = [
            ("packed across documents (backfill)", {}, "backfill"),
            ("packed per document (trigger path)", {}, "trigger"),
            ("16 inputs per request", {"embedding_batch_max_inputs": 16}, "backfill"),
            ("one request per chunk", {"embedding_batch_max_inputs": 1, "embedding_concurrency": 8}, "backfill"),
        ]
        print(f"corpus: {len(docs)} documents, {sum(len(d) for _, d in docs) / 1e6:.2f} MB of Markdown")
        rows = []
        for label, overrides, mode in runs:
            services = _services(server, azurite, **overrides)
            set_hnsw(services, False)
            wipe(services)
            server.reset()
            started = time.perf_counter()
            if mode == "backfill":
                report = backfill(services, container)
                tokens, chunks = report.tokens, report.embedded
            else:
                results = [ingest_blob(services, container.get_blob_client(name)) for name, _ in docs]
                tokens, chunks = sum(r.tokens for r in results), sum(r.embedded for r in results)
            seconds = time.perf_counter() - started
            requests = len(server.calls("embeddings"))
            biggest = max(len(c.body["input"]) for c in server.calls("embeddings"))
            rows.append((label, requests, tokens, chunks, biggest, seconds))
            cap = services.settings.embedding_batch_max_tokens
            set_hnsw(services, True)
            services.close()
        print(f"request token cap EMBEDDING_BATCH_MAX_TOKENS = {cap}")
        print(f"{'':38} {'requests':>9} {'per 1M tok':>11} {'tokens':>9} {'chunks':>7} {'max inputs':>10} {'time':>7}")
        for label, requests, tokens, chunks, biggest, seconds in rows:
            print(f"{label:38} {requests:9d} {requests * 1e6 / tokens:11.1f} {tokens:9d} {chunks:7d} {biggest:10d}"
                  f" {seconds:6.1f}s")
        packed = rows[0]
        target = math.ceil(packed[2] / cap) + 1
        print(f"target for the packed run: ceil({packed[2]} / {cap}) + 1 = {target}; measured {packed[1]}"
              f" -> {'met' if packed[1] <= target else 'MISSED'}")
        print(f"ratios: one-per-chunk / packed = {rows[3][1] / packed[1]:.0f}x, "
              f"16-per-request / packed = {rows[2][1] / packed[1]:.0f}x")


if __name__ == "__main__":
    main()
