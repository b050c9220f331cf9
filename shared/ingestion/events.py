"""Event Grid blob events for the documents container, validated before anything is touched."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import InvalidInputError
from shared.ingestion.service import delete_blob
from shared.runtime import Services

BLOB_DELETED = "Microsoft.Storage.BlobDeleted"
_SUBJECT = re.compile(r"^/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<name>.+)$")


class BlobEventData(BaseModel):
    """The part of a storage event's ``data`` we read (the rest varies by API and is ignored)."""

    model_config = ConfigDict(extra="ignore")

    url: str = Field(max_length=4096)
    api: str | None = Field(None, max_length=100)


def blob_path_of(subject: str, container: str) -> str | None:
    """``container/name`` from an event subject, or None for another container."""
    match = _SUBJECT.match(subject)
    if match is None:
        raise InvalidInputError(f"not a blob event subject: {subject[:200]}")
    if match.group("container") != container:
        return None
    return f"{container}/{match.group('name')}"


def handle_blob_event(services: Services, event_type: str, subject: str, data: Any) -> str:
    """Apply a BlobDeleted event; other event types and containers are ignored."""
    if event_type != BLOB_DELETED:
        return "ignored: not a BlobDeleted event"
    try:
        BlobEventData.model_validate(data)
        path = blob_path_of(subject, services.settings.documents_container)
    except (ValidationError, InvalidInputError) as exc:
        return f"ignored: malformed event ({str(exc).splitlines()[0]})"
    if path is None:
        return "ignored: another container"
    if _still_exists(services, path):
        return "kept: the blob exists again (re-uploaded after the delete)"
    return "deleted" if delete_blob(services, path) else "nothing to delete"


def _still_exists(services: Services, path: str) -> bool:
    """Events can arrive late: never delete a document whose blob is back."""
    settings = services.settings
    if not (settings.documents_storage or settings.documents_blob_service_uri):
        return False
    from shared.storage import documents_container

    _, _, name = path.partition("/")
    return bool(documents_container(settings).get_blob_client(name).exists())
