"""The one split between errors worth retrying and errors that never will succeed.

Triggers map these once: a PermanentError is recorded (and answered with 4xx or a completed
message); a TransientError propagates so the platform redelivers or the caller retries.
"""

from __future__ import annotations


class RagworkerError(Exception):
    """Base of every error ragworker raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def reason(self) -> str:
        return str(self)


class ConfigurationError(RagworkerError):
    """A setting is missing or invalid; nothing can work until it is fixed."""

    code = "configuration"


class PermanentError(RagworkerError):
    """Retrying the same input gives the same failure: record it and move on."""

    code = "permanent"


class TransientError(RagworkerError):
    """The input may succeed later (quota, outage, timeout): let the platform retry."""

    code = "transient"


class InvalidInputError(PermanentError):
    """The caller's input does not validate."""

    code = "invalid_input"


class InputTooLargeError(PermanentError):
    """The input exceeds a configured limit."""

    code = "too_large"


class ContentFilteredError(PermanentError):
    """Azure OpenAI's content filter blocked the prompt or the completion."""

    code = "content_filter"

    def __init__(self, message: str, *, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class RefusalError(PermanentError):
    """The model refused to produce the requested structured output."""

    code = "refused"


class SchemaViolationError(PermanentError):
    """The model's output does not validate against the schema, even after a repair attempt."""

    code = "schema_violation"


class ModelRequestError(PermanentError):
    """The model API rejected the request itself (bad parameters, unknown deployment)."""

    code = "model_request"


class UnauthorizedError(PermanentError):
    """The caller's identity is missing or carries no tenant."""

    code = "unauthorized"


class UnsupportedMediaTypeError(PermanentError):
    """The request body is not JSON."""

    code = "unsupported_media_type"


class NotFoundError(PermanentError):
    """The requested record does not exist for this tenant."""

    code = "not_found"
