"""The bindings the Functions host will read, and the cost of importing the app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.functions import bindings

ROOT = Path(__file__).resolve().parent.parent
# What our handlers need only once they run. (azure.storage.blob and azure.identity are loaded by the
# blob SDK-type binding extension itself, which the host needs at indexing time anyway.)
HEAVY = ("openai", "numpy", "psycopg", "psycopg_pool", "tiktoken", "pypdf", "docx", "bs4",
         "azure.servicebus", "azure.monitor.opentelemetry", "pgserver", "shared.runtime", "shared.config")


def _trigger(name: str) -> dict[str, object]:
    return next(b for b in bindings(name) if str(b["type"]).endswith("Trigger"))


def test_ingest_is_an_event_grid_blob_trigger() -> None:
    trigger = _trigger("ingest_document")
    assert trigger["type"] == "blobTrigger"
    assert trigger["path"] == "documents/{name}"
    assert trigger["connection"] == "DocumentsStorage"
    assert trigger["source"] == "EventGrid"


def test_delete_is_an_event_grid_trigger() -> None:
    assert _trigger("delete_document")["type"] == "eventGridTrigger"


def test_classify_is_a_service_bus_queue_trigger() -> None:
    trigger = _trigger("classify_ticket")
    assert trigger["type"] == "serviceBusTrigger"
    assert trigger["queueName"] == "tickets"
    assert trigger["connection"] == "ServiceBusConnection"


def test_ask_is_post_with_function_auth() -> None:
    trigger = _trigger("ask")
    assert trigger["type"] == "httpTrigger"
    assert trigger["methods"] == ["POST"]
    assert trigger["authLevel"] == "FUNCTION"
    assert trigger["route"] == "ask"


def test_read_back_and_health_need_a_function_key() -> None:
    for name, route in (("get_ticket", "tickets/{id}"), ("health", "health")):
        trigger = _trigger(name)
        assert trigger["authLevel"] == "FUNCTION"
        assert trigger["methods"] == ["GET"]
        assert trigger["route"] == route


def test_importing_the_app_loads_no_heavy_module() -> None:
    code = (
        "import sys, time\nt = time.perf_counter()\nimport function_app\n"
        "elapsed = time.perf_counter() - t\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "import json; print(json.dumps({'seconds': elapsed, 'heavy': heavy, 'modules': len(sys.modules)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []


def test_shared_never_imports_azure_functions() -> None:
    forbidden = ("import azure.functions", "from azure.functions", "from azure import functions")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "shared").rglob("*.py")
        if any(line.strip().startswith(forbidden) for line in path.read_text().splitlines())
    ]
    assert offenders == []
