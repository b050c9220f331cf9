"""Ingestion under a tokens-per-minute quota: 4 concurrent workers, one shared budget.

The scripted Azure OpenAI server enforces a sliding-window token quota with 429 +
Retry-After (a minute squeezed into --window seconds). Four workers (threads, each with its
own Services: own connection pool and model client, like four instances) take documents from
one queue and run the trigger's unit of work, ``ingest_blob``; a TransientError puts the
document back on the queue, as the platform would redeliver it. Run twice: with the shared
PostgreSQL budget (EMBEDDING_TPM_LIMIT = the quota) and without it (SDK retries only).

Prints the share of the quota used (tokens the server accepted / quota x elapsed windows),
429s, redeliveries and documents lost (not ``ready`` at the end). Target: >= 90 %, 0 lost.

    .venv/bin/python -m bench.ingest_quota                  # ~1 min
    .venv/bin/python -m bench.ingest_quota --tpm 20000 --window 1 --mb 1.2
"""

from __future__ import annotations

import argparse
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from bench.ingest_common import bench_services, corpus, set_hnsw, upload_corpus, wipe
from scripts.azurite import Azurite
from shared.errors import TransientError
from shared.ingestion.operations import status
from shared.ingestion.service import ingest_blob
from tests.support.aoai_server import ScriptedAOAI

DIMENSIONS = 256
WORKERS = 4


def run(server: ScriptedAOAI, azurite: Azurite, names: list[str], *, tpm: int, window: float,
        shared_budget: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "model_provider": "azure", "azure_openai_endpoint": server.url, "azure_openai_api_key": "bench",
        "documents_storage": azurite.connection_string, "embedding_dimensions": DIMENSIONS,
        "embedding_batch_max_tokens": 4000, "embedding_concurrency": 2, "model_max_retries": 3,
        "embedding_tpm_limit": tpm if shared_budget else 0, "embedding_tpm_window_seconds": window,
        "embedding_quota_max_wait_seconds": 30 * window,
    }
    workers = [bench_services(f"bench-quota-{DIMENSIONS}", **settings) for _ in range(WORKERS)]
    set_hnsw(workers[0], False)
    wipe(workers[0])
    server.reset()
    server.enforce_tpm(tpm, window_seconds=window)
    todo: queue.Queue[str] = queue.Queue()
    for name in names:
        todo.put(name)
    redelivered = 0
    lock = threading.Lock()
    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client("documents")

    def work(services: Any) -> None:
        nonlocal redelivered
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            try:
                ingest_blob(services, container.get_blob_client(name))
            except TransientError:
                with lock:
                    redelivered += 1
                todo.put(name)  # the platform redelivers transient failures

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(s,)) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    stats = server.tpm_stats()
    calls = server.calls("embeddings")
    report = status(workers[0])
    ready = sum(t["documents"].get("ready", 0) for t in report.values())
    set_hnsw(workers[0], True)
    for s in workers:
        s.close()
    server.enforce_tpm(None)
    return {
        "elapsed": elapsed, "accepted": stats.tokens_accepted, "requests": stats.requests_accepted,
        "throttled": sum(1 for c in calls if c.status == 429), "redelivered": redelivered,
        "lost": len(names) - ready,
        "share": stats.tokens_accepted / (tpm * elapsed / window),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tpm", type=int, default=20_000, help="tokens allowed per window")
    parser.add_argument("--window", type=float, default=1.0, help="seconds standing in for a minute")
    parser.add_argument("--mb", type=float, default=1.2, help="corpus size in MB of Markdown")
    args = parser.parse_args()
    docs = corpus(args.mb)
    names = [name for name, _ in docs]
    with ScriptedAOAI(default_dimensions=DIMENSIONS) as server, \
            Azurite(Path(tempfile.mkdtemp(prefix="bench-azurite-"))) as azurite:
        upload_corpus(azurite.connection_string, docs)
        print(f"corpus: {len(docs)} documents, {sum(len(d) for _, d in docs) / 1e6:.2f} MB; quota {args.tpm} tokens"
              f" per {args.window:g} s window; {WORKERS} workers")
        for shared in (True, False):
            r = run(server, azurite, names, tpm=args.tpm, window=args.window, shared_budget=shared)
            label = "shared PostgreSQL budget" if shared else "no shared budget (SDK retries only)"
            print(f"[{label}] {r['elapsed']:.1f} s, quota used {100 * r['share']:.1f} %, "
                  f"tokens accepted {r['accepted']}, requests {r['requests']}, 429s {r['throttled']}, "
                  f"redeliveries {r['redelivered']}, documents lost {r['lost']}")


if __name__ == "__main__":
    main()
