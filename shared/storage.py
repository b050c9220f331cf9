"""Blob Storage clients for tools that run outside a trigger (backfill, reconcile, demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.config import Settings
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient


def blob_service(settings: Settings) -> BlobServiceClient:
    """Connection string when configured (Azurite, development), otherwise Managed Identity."""
    from azure.storage.blob import BlobServiceClient

    if settings.documents_storage:
        return BlobServiceClient.from_connection_string(settings.documents_storage)
    if settings.documents_blob_service_uri:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
        return BlobServiceClient(settings.documents_blob_service_uri, credential=credential)
    raise ConfigurationError("set DocumentsStorage or DocumentsStorage__blobServiceUri")


def documents_container(settings: Settings) -> ContainerClient:
    return blob_service(settings).get_container_client(settings.documents_container)
