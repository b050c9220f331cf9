"""Tracing and log correlation: OpenTelemetry spans named and attributed the same way everywhere.

Off by default and nearly free when off: without :func:`configure_telemetry` the OpenTelemetry API
hands out its no-op tracer, :func:`span` yields a non-recording span, and attribute values are
not even sanitized. With an Application Insights connection string, :func:`configure_telemetry`
installs the Azure Monitor distro once (imported lazily, only then). In Azure the exporter
authenticates with the managed identity named in ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``.

Attributes are passed as keywords and exported under the ``ragworker.`` prefix
(``chunks=3`` -> ``ragworker.chunks``); a keyword with a dot is used as is. ``tenant=`` is never
exported raw: it becomes ``ragworker.tenant_hash`` (see :func:`hash_tenant`). ``None`` values are
dropped, so optional facts can be passed unconditionally.

How ``function_app.py`` uses it (one block per trigger)::

    from shared.telemetry import bind_invocation, set_attributes, span

    with bind_invocation(context.invocation_id), span(
        "ingest_document", tenant=tenant, document=blob.name
    ) as s:
        result = ingest(...)
        set_attributes(s, chunks=result.chunks, tokens=result.tokens,
                       cost_usd=result.cost_usd, model=result.model, outcome=result.outcome)

``bind_invocation`` puts the invocation id on the active span and in a context variable that
:func:`install_log_correlation` (called once at start-up, next to :func:`configure_telemetry`)
copies onto every log record as ``record.invocation_id``, so ``%(invocation_id)s`` works in log
formats and exported logs carry it as a custom dimension.

Tests route spans to their own provider with :func:`set_tracer` (the global tracer provider can
be set only once per process) or pass ``tracer=`` to :func:`span`.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

__all__ = [
    "ATTR_CHUNKS",
    "ATTR_COST_USD",
    "ATTR_DOCUMENT",
    "ATTR_INVOCATION_ID",
    "ATTR_MODEL",
    "ATTR_OUTCOME",
    "ATTR_TENANT_HASH",
    "ATTR_TOKENS",
    "TRACER_NAME",
    "InvocationLogFilter",
    "bind_invocation",
    "configure_telemetry",
    "current_invocation_id",
    "hash_tenant",
    "install_log_correlation",
    "set_attributes",
    "set_tracer",
    "span",
]

TRACER_NAME = "ragworker"
ATTRIBUTE_PREFIX = "ragworker."

ATTR_TENANT_HASH = "ragworker.tenant_hash"
ATTR_DOCUMENT = "ragworker.document"
ATTR_CHUNKS = "ragworker.chunks"
ATTR_TOKENS = "ragworker.tokens"
ATTR_COST_USD = "ragworker.cost_usd"
ATTR_MODEL = "ragworker.model"
ATTR_OUTCOME = "ragworker.outcome"
ATTR_INVOCATION_ID = "ragworker.invocation_id"

#: Keyword that carries a raw tenant id; it is exported only as ATTR_TENANT_HASH.
TENANT_KEYWORD = "tenant"
#: Longest string attribute exported (longer values are cut; keeps one bad value from bloating a span).
MAX_ATTRIBUTE_CHARS = 1024

log = logging.getLogger(__name__)

_configure_lock = threading.Lock()
_configured = False
_tracer_override: Tracer | None = None
_invocation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("ragworker_invocation_id", default=None)

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]


# --- configuration ---------------------------------------------------------------------------
def configure_telemetry(connection_string: str | None, **options: Any) -> bool:
    """Send traces, logs and metrics to Application Insights; True when telemetry is on.

    Idempotent: the Azure Monitor distro is configured at most once per process (later calls
    return True without doing anything). Without a connection string nothing is imported or
    installed and False is returned. ``options`` go to ``configure_azure_monitor`` (for example
    ``logger_name`` or ``instrumentation_options``). A failure to configure is logged, not
    raised: telemetry must never stop the worker.
    """
    global _configured
    if not connection_string or not connection_string.strip():
        return False
    with _configure_lock:
        if _configured:
            return True
        try:
            from azure.monitor.opentelemetry import configure_azure_monitor

            configure_azure_monitor(connection_string=connection_string.strip(), **options)
        except Exception as exc:  # an exporter problem must not take the app down
            log.warning("telemetry: Azure Monitor could not be configured: %s", exc)
            return False
        _configured = True
        return True


def set_tracer(tracer: Tracer | None) -> None:
    """Use ``tracer`` for every :func:`span` (tests); ``None`` restores the global provider's."""
    global _tracer_override
    _tracer_override = tracer


def _tracer() -> Tracer:
    if _tracer_override is not None:
        return _tracer_override
    # A proxy until a provider is installed, then the provider's tracer: cheap to call each time.
    return trace.get_tracer(TRACER_NAME)


# --- attributes ------------------------------------------------------------------------------
def hash_tenant(tenant_id: str) -> str:
    """A stable, non-reversible tenant label for telemetry: first 16 hex chars of SHA-256."""
    return hashlib.sha256(tenant_id.encode("utf-8")).hexdigest()[:16]


def _attribute_key(name: str) -> str:
    return name if "." in name else ATTRIBUTE_PREFIX + name


def _scalar(value: Any) -> str | bool | int | float:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_ATTRIBUTE_CHARS else text[: MAX_ATTRIBUTE_CHARS - 1] + "…"


def _sanitize(value: Any) -> AttributeValue | None:
    """An OpenTelemetry-compatible attribute value, or None to drop it."""
    if value is None:
        return None
    if isinstance(value, str | bytes | bytearray) or not isinstance(value, Sequence | set | frozenset):
        if isinstance(value, bytes | bytearray):
            return f"<{len(value)} bytes>"
        return _scalar(value)
    items = [_scalar(item) for item in value if item is not None]
    if len({type(item) for item in items}) > 1:  # attribute arrays must be homogeneous
        return [str(item) for item in items]
    return cast(AttributeValue, items)


def _prepare(attributes: Mapping[str, Any]) -> dict[str, AttributeValue]:
    prepared: dict[str, AttributeValue] = {}
    for name, value in attributes.items():
        if name == TENANT_KEYWORD:
            if value is not None:
                prepared[ATTR_TENANT_HASH] = hash_tenant(str(value))
            continue
        clean = _sanitize(value)
        if clean is not None:
            prepared[_attribute_key(name)] = clean
    return prepared


def set_attributes(span: Span, **attributes: Any) -> None:
    """Add attributes to ``span`` later on (tokens, cost, outcome); same naming as :func:`span`."""
    if not span.is_recording():
        return
    span.set_attributes(_prepare(attributes))


# --- spans -----------------------------------------------------------------------------------
@contextmanager
def span(name: str, *, tracer: Tracer | None = None, **attributes: Any) -> Iterator[Span]:
    """Run the block in a child span of the current one; an exception marks it ERROR and re-raises."""
    chosen = tracer if tracer is not None else _tracer()
    with chosen.start_as_current_span(name, record_exception=False, set_status_on_exception=False) as current:
        if current.is_recording():
            invocation_id = _invocation_id.get()
            if invocation_id is not None:
                current.set_attribute(ATTR_INVOCATION_ID, invocation_id)
            current.set_attributes(_prepare(attributes))
        try:
            yield current
        except Exception as exc:
            if current.is_recording():
                current.record_exception(exc)
                current.set_attribute("error.type", type(exc).__qualname__)
                current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


# --- invocation correlation ------------------------------------------------------------------
def current_invocation_id() -> str | None:
    """The invocation id bound by :func:`bind_invocation` in this context, if any."""
    return _invocation_id.get()


@contextmanager
def bind_invocation(invocation_id: str | None) -> Iterator[str | None]:
    """Tag logs and spans in this block with the Functions invocation id; restores the previous one."""
    token = _invocation_id.set(invocation_id or None)
    try:
        if invocation_id:
            active = trace.get_current_span()
            if active.is_recording():
                active.set_attribute(ATTR_INVOCATION_ID, invocation_id)
        yield invocation_id or None
    finally:
        _invocation_id.reset(token)


class InvocationLogFilter(logging.Filter):
    """Adds ``record.invocation_id`` ("-" outside an invocation); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "invocation_id"):
            record.invocation_id = _invocation_id.get() or "-"
        return True


_factory_lock = threading.Lock()
_factory_installed = False


def install_log_correlation() -> None:
    """Give every log record an ``invocation_id`` attribute, whatever logger or handler emits it.

    Wraps the logging record factory once per process (idempotent), so it covers handlers the
    Functions worker and the Azure Monitor exporter install later. Use :class:`InvocationLogFilter`
    instead to limit it to one handler.
    """
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            record.invocation_id = _invocation_id.get() or "-"
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True
