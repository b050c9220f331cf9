"""Versioned classifier prompts: Markdown files under ``shared/prompts/ticket_classifier``.

A prompt is a file, not a string in code, so a change is a new version that can be
reviewed, evaluated with ``bench/classification_eval.py`` and switched on with
CLASSIFIER_PROMPT_VERSION; the version is recorded with every outcome. Files are
``string.Template`` texts (``$company_name``, ``$categories``, ``$priorities``), which
leaves JSON braces in a prompt alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from string import Template

from shared.classification.models import Ticket
from shared.config import Settings
from shared.errors import ConfigurationError
from shared.llm.types import Message

PROMPT_FOLDER = "prompts/ticket_classifier"


@dataclass(frozen=True)
class ClassifierPrompt:
    version: str
    system: str
    sha256: str

    def messages(self, ticket: Ticket) -> list[Message]:
        """System rules plus the ticket as delimited data; customer identity is not sent."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": ticket_text(ticket)}]


def ticket_text(ticket: Ticket) -> str:
    # Angle brackets inside the ticket cannot close the data block early.
    subject = ticket.subject.replace("<", "‹").replace(">", "›")
    body = ticket.body.replace("<", "‹").replace(">", "›")
    return f"<ticket>\nSubject: {subject}\n\n{body}\n</ticket>"


def available_versions() -> list[str]:
    folder = resources.files("shared").joinpath(PROMPT_FOLDER)
    return sorted(f.name.removesuffix(".md") for f in folder.iterdir() if f.name.endswith(".md"))


@lru_cache(maxsize=16)
def _template(version: str) -> str:
    path = resources.files("shared").joinpath(f"{PROMPT_FOLDER}/{version}.md")
    if not path.is_file():
        raise ConfigurationError(
            f"CLASSIFIER_PROMPT_VERSION: no prompt {version!r}; available: {', '.join(available_versions())}")
    return path.read_text("utf-8")


def load_prompt(settings: Settings, version: str | None = None) -> ClassifierPrompt:
    """The configured prompt version, rendered with the company name and label sets."""
    chosen = version or settings.classifier_prompt_version
    try:
        text = Template(_template(chosen)).substitute(
            company_name=settings.company_name,
            categories=", ".join(settings.ticket_categories),
            priorities=", ".join(settings.ticket_priorities),
        )
    except (KeyError, ValueError) as exc:
        raise ConfigurationError(f"prompt {chosen} has an unknown placeholder: {exc}") from exc
    return ClassifierPrompt(version=chosen, system=text.strip(), sha256=hashlib.sha256(text.encode()).hexdigest())
