"""Map the OpenAI SDK's exceptions onto ragworker's permanent/transient split, once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import openai

from shared.errors import (
    ContentFilteredError,
    ModelRequestError,
    SchemaViolationError,
    TransientError,
)


def _is_content_filter(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    code = getattr(exc, "code", None) or (error.get("code") if isinstance(error, dict) else None)
    return code == "content_filter"


@contextmanager
def translated() -> Iterator[None]:
    """Run an SDK call; re-raise its failure as PermanentError or TransientError.

    The SDK has already retried 429/5xx/timeouts (honouring Retry-After) by the time an
    error reaches here, so those become transient. Authentication and missing deployments
    are configuration faults, not faults of the input: they are transient too, so messages
    wait for the fix instead of being recorded as failed.
    """
    try:
        yield
    except openai.ContentFilterFinishReasonError as exc:
        raise ContentFilteredError("the completion was stopped by the content filter") from exc
    except openai.LengthFinishReasonError as exc:
        raise SchemaViolationError("the structured output was cut off at the token limit") from exc
    except openai.BadRequestError as exc:
        if _is_content_filter(exc):
            raise ContentFilteredError("the prompt was blocked by the content filter") from exc
        raise ModelRequestError(f"the model rejected the request: {exc.message}") from exc
    except openai.UnprocessableEntityError as exc:
        raise ModelRequestError(f"the model rejected the request: {exc.message}") from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as exc:
        raise TransientError(f"model endpoint configuration problem ({exc.status_code}): {exc.message}") from exc
    except openai.RateLimitError as exc:
        raise TransientError("model quota exhausted after retries (429)") from exc
    except openai.APIStatusError as exc:
        raise TransientError(f"model service error {exc.status_code}") from exc
    except (openai.APITimeoutError, openai.APIConnectionError) as exc:
        raise TransientError(f"model service unreachable: {exc}") from exc
