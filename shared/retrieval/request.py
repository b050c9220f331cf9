"""Turn an HTTP request body into an :class:`AskRequest`, with the right problem for each fault.

415 for a body that is not JSON, 413 for one over MAX_ASK_BODY_BYTES (checked from the header
before reading when it is declared), 400 for JSON that does not validate.
"""

from __future__ import annotations

from pydantic import ValidationError

from shared.config import Settings
from shared.errors import InputTooLargeError, InvalidInputError, UnsupportedMediaTypeError
from shared.retrieval.models import AskRequest


def check_declared(content_type: str | None, content_length: str | None, settings: Settings) -> None:
    """Header checks that need no body: media type and declared size."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaTypeError("send the question as application/json")
    if content_length and content_length.isdigit() and int(content_length) > settings.max_ask_body_bytes:
        raise InputTooLargeError(f"the body is larger than {settings.max_ask_body_bytes} bytes")


def parse_ask(body: bytes, settings: Settings) -> AskRequest:
    """Validate the body; the messages name the offending fields."""
    if len(body) > settings.max_ask_body_bytes:
        raise InputTooLargeError(f"the body is larger than {settings.max_ask_body_bytes} bytes")
    try:
        return AskRequest.model_validate_json(body)
    except ValidationError as exc:
        if len(exc.errors()) == 1 and exc.errors()[0]["type"] == "json_invalid":
            raise InvalidInputError("the body is not valid JSON") from exc
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:10])
        raise InvalidInputError(f"the request does not validate: {problems}") from exc
