"""Helpers for structured output on servers that lack ``json_schema`` response formats."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from shared.llm.types import Message


def schema_instruction(schema: type[BaseModel]) -> Message:
    """A system message carrying the JSON schema, for JSON-mode fallbacks."""
    return {
        "role": "system",
        "content": "Reply with one JSON object only, no prose, that validates against this JSON schema:\n"
        + json.dumps(schema.model_json_schema(), separators=(",", ":")),
    }


def repair_messages(messages: Sequence[Message], bad_output: str, error: ValidationError) -> list[Message]:
    """The conversation plus the invalid answer and what was wrong with it."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'root'}: {e['msg']}" for e in error.errors()[:10]
    )
    return [
        *messages,
        {"role": "assistant", "content": bad_output[:4000]},
        {"role": "user", "content": f"That JSON is invalid ({problems}). Reply with corrected JSON only."},
    ]


def validate_json(schema: type[BaseModel], text: str) -> BaseModel:
    """Validate model output, tolerating a Markdown code fence around the JSON."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`")
        body = body.split("\n", 1)[1] if "\n" in body else body
    return schema.model_validate_json(body)
