"""Azure Functions wiring only: bind, parse into a pydantic model, call one service, map the outcome.

Everything with logic lives in ``shared/``. Service modules are imported inside the handlers
so that loading this file (every cold start, and indexing) stays cheap.
"""

from __future__ import annotations

import logging

import azure.functions as func
from azurefunctions.extensions.http.fastapi import JSONResponse, Request

from shared.problems import PROBLEM_JSON

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("ragworker")


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


# --- classification ----------------------------------------------------------------------


# --- answering ---------------------------------------------------------------------------
