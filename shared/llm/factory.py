"""Build the configured model client once per process."""

from __future__ import annotations

from shared.config import Settings
from shared.llm.base import ModelClient
from shared.llm.offline.client import OfflineModelClient


def build_model_client(settings: Settings) -> ModelClient:
    """Azure OpenAI (keyless unless a key is set), an OpenAI-compatible server, or offline."""
    provider = settings.provider
    if provider == "offline":
        return OfflineModelClient(settings.embedding_dimensions)

    import openai  # deferred: the offline path never pays for the SDK import

    from shared.llm.remote import RemoteModelClient, _bearer_token_provider

    client: openai.OpenAI
    if provider == "azure":
        auth = (
            {"api_key": settings.azure_openai_api_key}
            if settings.azure_openai_api_key
            else {"azure_ad_token_provider": _bearer_token_provider(settings.azure_client_id)}
        )
        client = openai.AzureOpenAI(
            azure_endpoint=settings.azure_openai_endpoint or "",
            api_version=settings.azure_openai_api_version,
            max_retries=settings.model_max_retries,
            timeout=settings.model_timeout_seconds,
            **auth,
        )
    else:
        client = openai.OpenAI(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key or "not-needed",
            max_retries=settings.model_max_retries,
            timeout=settings.model_timeout_seconds,
        )
    return RemoteModelClient(
        client,
        provider=provider,
        models={
            "chat": settings.chat_deployment,
            "classification": settings.classification_deployment,
            "embeddings": settings.embedding_deployment,
        },
        dimensions=settings.embedding_dimensions,
        prices=settings.model_prices,
        send_dimensions=provider == "azure" or "text-embedding-3" in settings.embedding_deployment,
    )
