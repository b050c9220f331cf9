"""shared.telemetry: span naming and nesting, tenant hashing, error status, log correlation, and
that telemetry switched off imports nothing heavy.

Spans go to an in-memory exporter through a TracerProvider owned by this module and installed
with ``set_tracer``: the global provider can be set only once per process, so these tests never
touch it.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import types
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, StatusCode

from shared import telemetry
from shared.telemetry import (
    ATTR_CHUNKS,
    ATTR_COST_USD,
    ATTR_DOCUMENT,
    ATTR_INVOCATION_ID,
    ATTR_MODEL,
    ATTR_OUTCOME,
    ATTR_TENANT_HASH,
    ATTR_TOKENS,
    bind_invocation,
    configure_telemetry,
    hash_tenant,
    set_attributes,
    span,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.set_tracer(provider.get_tracer(telemetry.TRACER_NAME))
    yield memory
    telemetry.set_tracer(None)
    provider.shutdown()


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {s.name: s for s in exporter.get_finished_spans()}


def test_parent_and_child_spans_with_attributes(spans: InMemorySpanExporter) -> None:
    with span("ingest_document", tenant="contoso", document="contracts/a.pdf") as parent:
        with span("embed", model="text-embedding-3-small", chunks=12):
            pass
        set_attributes(parent, chunks=12, tokens=5400, cost_usd=0.000108, outcome="ingested", missing=None)

    finished = _by_name(spans)
    assert set(finished) == {"ingest_document", "embed"}
    outer, inner = finished["ingest_document"], finished["embed"]

    assert inner.parent is not None and outer.context is not None
    assert inner.parent.span_id == outer.context.span_id
    assert inner.context is not None and inner.context.trace_id == outer.context.trace_id
    assert outer.parent is None

    attrs = dict(outer.attributes or {})
    assert attrs[ATTR_DOCUMENT] == "contracts/a.pdf"
    assert attrs[ATTR_CHUNKS] == 12
    assert attrs[ATTR_TOKENS] == 5400
    assert attrs[ATTR_COST_USD] == pytest.approx(0.000108)
    assert attrs[ATTR_OUTCOME] == "ingested"
    assert "ragworker.missing" not in attrs  # None is dropped
    assert dict(inner.attributes or {})[ATTR_MODEL] == "text-embedding-3-small"
    assert outer.status.status_code is StatusCode.UNSET


def test_tenant_is_hashed_never_exported_raw(spans: InMemorySpanExporter) -> None:
    with span("answer_question", tenant="contoso-tenant-42"):
        pass
    (finished,) = spans.get_finished_spans()
    attrs = dict(finished.attributes or {})
    expected = hashlib.sha256(b"contoso-tenant-42").hexdigest()[:16]
    assert attrs[ATTR_TENANT_HASH] == expected == hash_tenant("contoso-tenant-42")
    assert len(expected) == 16
    assert all("contoso-tenant-42" not in str(value) for value in attrs.values())
    assert "ragworker.tenant" not in attrs


def test_exception_sets_error_status_and_is_recorded(spans: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError, match="bad blob"), span("ingest_document", document="x.pdf"):
        raise ValueError("bad blob")
    (finished,) = spans.get_finished_spans()
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.status.description == "ValueError"
    assert dict(finished.attributes or {})["error.type"] == "ValueError"
    assert [event.name for event in finished.events] == ["exception"]


def test_error_in_child_marks_only_the_child(spans: InMemorySpanExporter) -> None:
    with span("classify_ticket") as parent:
        try:
            with span("model_call"):
                raise TimeoutError("slow")
        except TimeoutError:
            set_attributes(parent, outcome="retried")
    finished = _by_name(spans)
    assert finished["model_call"].status.status_code is StatusCode.ERROR
    assert finished["classify_ticket"].status.status_code is StatusCode.UNSET
    assert dict(finished["classify_ticket"].attributes or {})[ATTR_OUTCOME] == "retried"


def test_attribute_values_are_sanitized(spans: InMemorySpanExporter) -> None:
    class Outcome(Enum):
        DONE = "done"

    dotted: dict[str, Any] = {"http.route": "/api/ask"}
    with span(
        "sanitize",
        outcome=Outcome.DONE,
        path=Path("a/b.txt"),
        labels=["x", None, "y"],
        mixed=[1, "two"],
        payload=b"\x00\x01",
        long="z" * 5000,
        **dotted,
    ):
        pass
    (finished,) = spans.get_finished_spans()
    attrs = dict(finished.attributes or {})
    assert attrs[ATTR_OUTCOME] == "done"
    assert attrs["ragworker.path"] == str(Path("a/b.txt"))
    assert list(attrs["ragworker.labels"]) == ["x", "y"]  # type: ignore[arg-type]
    assert list(attrs["ragworker.mixed"]) == ["1", "two"]  # type: ignore[arg-type]
    assert attrs["ragworker.payload"] == "<2 bytes>"
    assert len(str(attrs["ragworker.long"])) == telemetry.MAX_ATTRIBUTE_CHARS
    assert attrs["http.route"] == "/api/ask"  # dotted names are used as given


def test_bind_invocation_tags_spans_and_logs(spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    telemetry.install_log_correlation()
    telemetry.install_log_correlation()  # idempotent
    logger = logging.getLogger("ragworker.test")
    with caplog.at_level(logging.INFO, logger="ragworker.test"):
        with span("process_ticket") as outer, bind_invocation("inv-123"):
            assert telemetry.current_invocation_id() == "inv-123"
            logger.info("inside")
            with span("model_call"):
                pass
            assert outer.is_recording()
        logger.info("outside")
    assert telemetry.current_invocation_id() is None

    records = {r.getMessage(): r for r in caplog.records}
    assert records["inside"].invocation_id == "inv-123"  # type: ignore[attr-defined]
    assert records["outside"].invocation_id == "-"  # type: ignore[attr-defined]
    finished = _by_name(spans)
    assert dict(finished["process_ticket"].attributes or {})[ATTR_INVOCATION_ID] == "inv-123"
    assert dict(finished["model_call"].attributes or {})[ATTR_INVOCATION_ID] == "inv-123"


def test_bind_invocation_nests_and_restores() -> None:
    with bind_invocation("outer"):
        with bind_invocation("inner"):
            assert telemetry.current_invocation_id() == "inner"
        assert telemetry.current_invocation_id() == "outer"
    assert telemetry.current_invocation_id() is None


def test_log_filter_adds_invocation_id() -> None:
    record = logging.LogRecord("ragworker", logging.INFO, __file__, 1, "msg", None, None)
    with bind_invocation("inv-9"):
        assert telemetry.InvocationLogFilter().filter(record) is True
    assert record.invocation_id == "inv-9"  # type: ignore[attr-defined]


def test_without_a_provider_spans_are_no_ops() -> None:
    from opentelemetry.trace import NoOpTracer

    with span("noop", tracer=NoOpTracer(), tenant="t", chunks=1) as current:
        assert isinstance(current, NonRecordingSpan)
        assert not current.is_recording()
        set_attributes(current, tokens=3)  # accepted and ignored


def test_configure_telemetry_off_returns_false_and_imports_nothing() -> None:
    before = {name for name in sys.modules if name.startswith("azure.monitor")}
    assert configure_telemetry(None) is False
    assert configure_telemetry("") is False
    assert configure_telemetry("   ") is False
    assert {name for name in sys.modules if name.startswith("azure.monitor")} == before


def test_configure_telemetry_off_in_a_fresh_interpreter_stays_light() -> None:
    code = (
        "import sys\n"
        "from shared.telemetry import configure_telemetry, span\n"
        "assert configure_telemetry(None) is False\n"
        "with span('x', tenant='t'):\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('azure.monitor', 'opentelemetry.sdk')))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_configure_telemetry_on_configures_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    fake = types.ModuleType("azure.monitor.opentelemetry")
    fake.configure_azure_monitor = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", fake)
    monkeypatch.setattr(telemetry, "_configured", False)

    conn = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"
    assert configure_telemetry(conn, logger_name="ragworker") is True
    assert configure_telemetry(conn) is True
    assert calls == [{"connection_string": conn, "logger_name": "ragworker"}]


def test_configure_telemetry_failure_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("exporter unavailable")

    fake = types.ModuleType("azure.monitor.opentelemetry")
    fake.configure_azure_monitor = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", fake)
    monkeypatch.setattr(telemetry, "_configured", False)
    with caplog.at_level(logging.WARNING, logger="shared.telemetry"):
        assert configure_telemetry("InstrumentationKey=x") is False
    assert "exporter unavailable" in caplog.text
