"""The shape of a grounded prompt: numbered context blocks and the question.

The answering service writes it; the offline provider reads it back. Keeping both halves here
means a change to the format cannot silently break offline answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.llm.types import Message

NO_ANSWER = "I don't have information about that."
CONTEXT_OPEN = "<context>"
CONTEXT_CLOSE = "</context>"
QUESTION_LABEL = "Question:"
_BLOCK = re.compile(r"^\[(\d+)\] source: [^\n]*\n(.*?)(?=^\[\d+\] source: |\Z)", re.M | re.S)


def block(n: int, source: str, page: int | None, text: str) -> str:
    """One labelled context block."""
    where = f"{source}, page {page}" if page else source
    return f"[{n}] source: {where}\n{text.strip()}\n"


def user_message(blocks: Sequence[str], question: str) -> str:
    """Context first, question last: the order the system prompt describes."""
    return f"{CONTEXT_OPEN}\n{''.join(blocks)}{CONTEXT_CLOSE}\n\n{QUESTION_LABEL} {question.strip()}"


def parse_prompt(messages: Sequence[Message]) -> tuple[str, list[tuple[int, str]]]:
    """(question, [(n, text)]) from the last user message written by :func:`user_message`."""
    content = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
    question = content.rsplit(QUESTION_LABEL, 1)[-1].strip() if QUESTION_LABEL in content else content
    inside = content.split(CONTEXT_OPEN, 1)[-1].split(CONTEXT_CLOSE, 1)[0] if CONTEXT_OPEN in content else ""
    blocks = [(int(m.group(1)), m.group(2).strip()) for m in _BLOCK.finditer(inside)]
    return question, blocks
