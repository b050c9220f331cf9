"""Azure Functions wiring only: bind, parse into a pydantic model, call one service, map the outcome.

Everything with logic lives in ``shared/``. Service modules are imported inside the handlers
so that loading this file (every cold start, and indexing) stays cheap. No
``from __future__ import annotations`` here: the worker reads the real parameter types to
choose bindings (SDK-type blob client, FastAPI request).
"""

import logging
from contextlib import AbstractContextManager

import azure.functions as func

# The SDK-type binding hands over a BlobClient (size, ETag and metadata before any download).
import azurefunctions.extensions.bindings.blob as blob_sdk
from azurefunctions.extensions.http.fastapi import JSONResponse, Request, Response

from shared.problems import PROBLEM_JSON

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("ragworker")


def _invocation(context: func.Context | None) -> AbstractContextManager[str | None]:
    """Logs and spans inside carry the host's invocation id (the host passes ``context``)."""
    from shared.telemetry import bind_invocation

    return bind_invocation(context.invocation_id if context is not None else None)


def _problem_response(status: int, body: dict[str, object]) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


# --- health ------------------------------------------------------------------------------
@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def health(req: Request) -> JSONResponse:
    """Database and model provider reachability; 503 when either is down."""
    from starlette.concurrency import run_in_threadpool

    from shared.health import check

    report = await run_in_threadpool(check)
    return JSONResponse(report.model_dump(), status_code=200 if report.ok else 503)


# --- ingestion ---------------------------------------------------------------------------

@app.function_name("ingest_document")
@app.blob_trigger(arg_name="client", path="documents/{name}", connection="DocumentsStorage",
                  source=func.BlobSource.EVENT_GRID)
def ingest_document(client: blob_sdk.BlobClient, context: func.Context | None = None) -> None:
    """A created or overwritten blob -> ledger + chunks. Permanent problems are recorded in the
    ledger and return normally; transient ones raise so the platform retries."""
    from shared.ingestion.service import ingest_blob
    from shared.runtime import get_services

    with _invocation(context):
        result = ingest_blob(get_services(), client)
    log.info("ingest %s: %s", result.blob_path, result.model_dump_json(exclude_none=True))


@app.function_name("delete_document")
@app.event_grid_trigger(arg_name="event")
def delete_document(event: func.EventGridEvent, context: func.Context | None = None) -> None:
    """Microsoft.Storage.BlobDeleted -> the document and its chunks are removed."""
    from shared.ingestion.events import handle_blob_event
    from shared.runtime import get_services

    with _invocation(context):
        outcome = handle_blob_event(get_services(), event.event_type, event.subject, event.get_json())
    log.info("blob event %s %s: %s", event.event_type, event.subject, outcome)


# --- classification ----------------------------------------------------------------------
@app.function_name("classify_ticket")
@app.service_bus_queue_trigger(arg_name="msg", queue_name="tickets", connection="ServiceBusConnection")
def classify_ticket(msg: func.ServiceBusMessage, context: func.Context | None = None) -> None:
    """Ticket JSON -> one recorded outcome. Permanent problems are recorded and the message
    completes; transient ones raise, so Service Bus redelivers (then dead-letters)."""
    from shared.classification.service import Delivery, classify_delivery

    properties = msg.application_properties or {}
    with _invocation(context):
        result = classify_delivery(Delivery(
            message_id=msg.message_id or "", body=msg.get_body(), tenant=properties.get("tenant"),
            delivery_count=msg.delivery_count,
        ))
    log.info("ticket message %s: %s%s", result.outcome.message_id, result.outcome.outcome,
             " (already recorded)" if result.duplicate else "")


@app.route(route="tickets/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
async def get_ticket(req: Request) -> JSONResponse:
    """The stored analysis of a ticket for the caller's tenant; 404 problem when absent."""
    from starlette.concurrency import run_in_threadpool

    from shared.classification.readback import ticket_record
    from shared.errors import PermanentError
    from shared.problems import from_error

    try:
        record = await run_in_threadpool(ticket_record, dict(req.headers), str(req.path_params.get("id", "")))
    except PermanentError as exc:
        body = from_error(exc)
        return _problem_response(int(body["status"]), body)
    return JSONResponse(record)


# --- answering ---------------------------------------------------------------------------
@app.route(route="ask", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def ask(req: Request) -> Response:
    """Question -> grounded answer with checked citations; ``stream: true`` -> server-sent events."""
    from azurefunctions.extensions.http.fastapi import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    from shared.errors import PermanentError
    from shared.identity import tenant_from_headers
    from shared.problems import from_error
    from shared.retrieval.answer import answer
    from shared.retrieval.request import check_declared, parse_ask
    from shared.retrieval.streaming import MEDIA_TYPE, open_stream
    from shared.runtime import get_services

    try:
        services = await run_in_threadpool(get_services)
        check_declared(req.headers.get("content-type"), req.headers.get("content-length"), services.settings)
        tenant = tenant_from_headers(dict(req.headers), services.settings)
        request = parse_ask(await req.body(), services.settings)
        if request.stream:
            events = await run_in_threadpool(open_stream, services, tenant, request)
            return StreamingResponse(events, media_type=MEDIA_TYPE, headers={"Cache-Control": "no-cache"})
        result = await run_in_threadpool(answer, services, tenant, request)
    except PermanentError as exc:
        body = from_error(exc)
        return _problem_response(int(body["status"]), body)
    return JSONResponse(result.model_dump(mode="json"))
