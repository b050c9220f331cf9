"""RFC 9457 problem bodies, so every HTTP error has the same JSON shape."""

from __future__ import annotations

from typing import Any

from shared.errors import (
    ContentFilteredError,
    InputTooLargeError,
    PermanentError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, title: str, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"urn:ragworker:problem:{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}


def from_error(error: PermanentError) -> dict[str, Any]:
    """The status and body for a permanent error raised while serving a request."""
    if isinstance(error, UnauthorizedError):
        return problem(401, "Unauthorized", error.reason, error.code)
    if isinstance(error, InputTooLargeError):
        return problem(413, "Payload too large", error.reason, error.code)
    if isinstance(error, UnsupportedMediaTypeError):
        return problem(415, "Unsupported media type", error.reason, error.code)
    if isinstance(error, ContentFilteredError):
        return problem(400, "Blocked by content filter", error.reason, error.code)
    if error.code == "not_found":
        return problem(404, "Not found", error.reason, error.code)
    return problem(400, "Bad request", error.reason, error.code)
