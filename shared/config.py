"""The one settings object: every value the app reads, validated once at start-up.

Environment variable names are the field aliases below (they are also the Function App's
application settings). Sections are grouped by capability; add new fields to the section
they belong to and run ``python -m scripts.settings_table`` to refresh the README table.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent

ProviderName = Literal["auto", "azure", "openai", "offline"]

#: USD per 1M tokens (input, output). Public list prices; override with MODEL_PRICES.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4.1": {"input": 2.00, "output": 8.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "text-embedding-3-small": {"input": 0.02, "output": 0.0},
    "text-embedding-3-large": {"input": 0.13, "output": 0.0},
    "offline": {"input": 0.0, "output": 0.0},
}


def _env(name: str, *more: str) -> Any:
    """Alias helper: the env var name (case-insensitive) plus any legacy spellings."""
    return AliasChoices(name, *more)


class Settings(BaseSettings):
    """Every setting ragworker reads. Construct via :func:`get_settings`."""

    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        env_ignore_empty=True,  # local.settings.json lists unset values as ""

    )

    # --- runtime -------------------------------------------------------------------------
    environment: Literal["development", "production"] = Field(
        "development", validation_alias=_env("RAGWORKER_ENV"),
        description="`production` refuses unsafe development conveniences.")
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"), description="Python log level.")
    data_dir: Path = Field(ROOT / ".data", validation_alias=_env("RAGWORKER_DATA_DIR"),
                           description="Where local state lives (embedded database, token files).")

    # --- models --------------------------------------------------------------------------
    model_provider: ProviderName = Field(
        "auto", validation_alias=_env("MODEL_PROVIDER"),
        description="`azure`, `openai` (any OpenAI-compatible server) or `offline`; `auto` picks "
                    "azure when AZURE_OPENAI_ENDPOINT is set, openai when OPENAI_BASE_URL is set, "
                    "else offline.")
    azure_openai_endpoint: str | None = Field(
        None, validation_alias=_env("AZURE_OPENAI_ENDPOINT"), description="https://NAME.openai.azure.com")
    azure_openai_api_key: str | None = Field(
        None, validation_alias=_env("AZURE_OPENAI_API_KEY"),
        description="Only when keys are wanted; unset means Managed Identity / Entra ID.")
    azure_openai_api_version: str = Field(
        "2024-10-21", validation_alias=_env("AZURE_OPENAI_API_VERSION"), description="REST api-version.")
    azure_client_id: str | None = Field(
        None, validation_alias=_env("AZURE_CLIENT_ID"),
        description="Client id of the user-assigned managed identity (keyless auth everywhere).")
    openai_base_url: str | None = Field(
        None, validation_alias=_env("OPENAI_BASE_URL"),
        description="OpenAI-compatible base URL, e.g. http://localhost:11434/v1 for Ollama.")
    openai_api_key: str | None = Field(
        None, validation_alias=_env("OPENAI_API_KEY"), description="Key for OPENAI_BASE_URL, if it needs one.")
    chat_deployment: str = Field(
        "gpt-4o-mini", validation_alias=_env("CHAT_DEPLOYMENT"),
        description="Chat model (Azure: deployment name) used to answer questions.")
    classification_deployment: str = Field(
        "gpt-4o-mini", validation_alias=_env("CLASSIFICATION_DEPLOYMENT"),
        description="Model (Azure: deployment name) used to classify tickets.")
    embedding_deployment: str = Field(
        "text-embedding-3-small", validation_alias=_env("EMBEDDING_DEPLOYMENT"),
        description="Embedding model (Azure: deployment name).")
    embedding_dimensions: int = Field(
        1536, ge=256, le=4000, validation_alias=_env("EMBEDDING_DIMENSIONS"),
        description="Vector size in PostgreSQL, up to 4000 (indexed in half precision above 2000; offline: >= 256).")
    embedding_max_input_tokens: int = Field(
        8191, ge=256, validation_alias=_env("EMBEDDING_MAX_INPUT_TOKENS"),
        description="The embedding model's per-input token limit.")
    model_max_retries: int = Field(
        5, ge=0, le=20, validation_alias=_env("MODEL_MAX_RETRIES"),
        description="Retries for 429/5xx/timeouts (Retry-After honoured) before a transient error.")
    model_timeout_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("MODEL_TIMEOUT_SECONDS"), description="Per-request model timeout.")
    model_prices: Annotated[dict[str, dict[str, float]], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), validation_alias=_env("MODEL_PRICES"),
        description="JSON: USD per 1M tokens by model, e.g. {\"gpt-4o\": {\"input\": 2.5, \"output\": 10}}.")

    # --- database ------------------------------------------------------------------------
    database_url: str | None = Field(
        None, validation_alias=_env("DATABASE_URL"),
        description="postgresql://user@host:5432/db?sslmode=require; without a password an Entra token "
                    "is fetched per connection. Unset: an embedded PostgreSQL under RAGWORKER_DATA_DIR.")
    database_entra_scope: str = Field(
        "https://ossrdbms-aad.database.windows.net/.default", validation_alias=_env("DATABASE_ENTRA_SCOPE"),
        description="Token scope for Azure Database for PostgreSQL.")
    database_auto_migrate: bool | None = Field(
        None, validation_alias=_env("DATABASE_AUTO_MIGRATE"),
        description="Apply migrations at start-up. Default: on in development; off in production, where the "
                    "deployment hook migrates as an admin and the app's identity only reads and writes.")
    database_pool_timeout_seconds: float = Field(
        15.0, gt=0, le=300, validation_alias=_env("DATABASE_POOL_TIMEOUT_SECONDS"),
        description="Wait for a pooled connection before failing (transiently) so the platform retries.")
    database_pool_max_size: int = Field(
        8, ge=1, le=100, validation_alias=_env("DATABASE_POOL_MAX_SIZE"), description="Connections per instance.")

    # --- storage and messaging -----------------------------------------------------------
    documents_storage: str | None = Field(
        None, validation_alias=_env("DocumentsStorage"),
        description="Connection string for the documents account (local development / Azurite).")
    documents_blob_service_uri: str | None = Field(
        None, validation_alias=_env("DocumentsStorage__blobServiceUri"),
        description="Blob endpoint for identity-based access in Azure.")
    documents_container: str = Field(
        "documents", validation_alias=_env("DOCUMENTS_CONTAINER"), description="Container watched for documents.")
    service_bus_connection: str | None = Field(
        None, validation_alias=_env("ServiceBusConnection"),
        description="Service Bus connection string (local tools only; Azure uses identity).")
    service_bus_namespace: str | None = Field(
        None, validation_alias=_env("ServiceBusConnection__fullyQualifiedNamespace"),
        description="NAME.servicebus.windows.net for identity-based publishing.")
    tickets_queue: str = Field("tickets", validation_alias=_env("TICKETS_QUEUE"), description="Ticket queue.")

    # --- tokens --------------------------------------------------------------------------
    tiktoken_cache_dir: Path | None = Field(
        None, validation_alias=_env("TIKTOKEN_CACHE_DIR"),
        description="Tokenizer file cache; seeded offline from a bundled copy. Default RAGWORKER_DATA_DIR/tiktoken.")
    token_encoding: str = Field(
        "o200k_base", validation_alias=_env("TOKEN_ENCODING"),
        description="Fallback tokenizer for models tiktoken does not know (deployment names).")

    # --- tenancy and HTTP ----------------------------------------------------------------
    default_tenant: str = Field(
        "default", validation_alias=_env("DEFAULT_TENANT"), description="Tenant for blobs/tickets without one.")
    allow_tenant_header: bool = Field(
        False, validation_alias=_env("ALLOW_TENANT_HEADER"),
        description="Development only: take the tenant from the X-Tenant-Id header.")

    # --- observability -------------------------------------------------------------------
    applicationinsights_connection_string: str | None = Field(
        None, validation_alias=_env("APPLICATIONINSIGHTS_CONNECTION_STRING"),
        description="When set, traces and logs go to Application Insights.")

    # --- ingestion -----------------------------------------------------------------------
    chunk_target_tokens: int = Field(
        500, ge=50, le=8000, validation_alias=_env("CHUNK_TARGET_TOKENS"), description="Target chunk size.")
    chunk_overlap_tokens: int = Field(
        60, ge=0, le=2000, validation_alias=_env("CHUNK_OVERLAP_TOKENS"), description="Overlap between chunks.")
    embedding_batch_max_inputs: int = Field(
        2048, ge=1, le=2048, validation_alias=_env("EMBEDDING_BATCH_MAX_INPUTS"),
        description="Inputs per embeddings request (API limit 2048).")
    embedding_batch_max_tokens: int = Field(
        100_000, ge=1000, le=300_000, validation_alias=_env("EMBEDDING_BATCH_MAX_TOKENS"),
        description="Tokens per embeddings request.")
    max_blob_bytes: int = Field(
        50 * 1024 * 1024, ge=1, validation_alias=_env("MAX_BLOB_BYTES"),
        description="Larger blobs are recorded as too_large without being downloaded.")
    embedding_concurrency: int = Field(
        4, ge=1, le=32, validation_alias=_env("EMBEDDING_CONCURRENCY"),
        description="Embeddings requests in flight per document.")
    embedding_tpm_limit: int = Field(
        0, ge=0, validation_alias=_env("EMBEDDING_TPM_LIMIT"),
        description="Tokens per minute shared by every instance (kept in PostgreSQL); 0 = no shared budget.")
    embedding_tpm_window_seconds: float = Field(
        60.0, gt=0, le=3600, validation_alias=_env("EMBEDDING_TPM_WINDOW_SECONDS"),
        description="Sliding window of the shared token budget.")
    embedding_quota_max_wait_seconds: float = Field(
        120.0, ge=0, validation_alias=_env("EMBEDDING_QUOTA_MAX_WAIT_SECONDS"),
        description="Longest wait for the shared budget before the invocation fails as transient.")
    ingest_spool_memory_bytes: int = Field(
        8 * 1024 * 1024, ge=65536, validation_alias=_env("INGEST_SPOOL_MEMORY_BYTES"),
        description="Blob bodies above this size are spooled to a temporary file while read.")
    ingest_writers: int = Field(
        2, ge=1, le=16, validation_alias=_env("INGEST_WRITERS"),
        description="Threads committing documents during a backfill while the next ones are prepared.")

    # --- classification ------------------------------------------------------------------
    ticket_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["billing", "technical", "account", "general"],
        validation_alias=_env("TICKET_CATEGORIES"), description="Comma-separated categories.")
    ticket_priorities: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["low", "medium", "high", "critical"],
        validation_alias=_env("TICKET_PRIORITIES"), description="Comma-separated priorities, lowest first.")
    max_ticket_body_chars: int = Field(
        20_000, ge=100, validation_alias=_env("MAX_TICKET_BODY_CHARS"), description="Longest ticket body accepted.")
    max_ticket_subject_chars: int = Field(
        300, ge=20, le=5000, validation_alias=_env("MAX_TICKET_SUBJECT_CHARS"),
        description="Longest ticket subject accepted.")
    classifier_prompt_version: str = Field(
        "v2", pattern=r"^v\d+$", validation_alias=_env("CLASSIFIER_PROMPT_VERSION"),
        description="Prompt file shared/prompts/ticket_classifier/<version>.md; recorded with every outcome.")
    company_name: str = Field(
        "Lumora", min_length=1, max_length=100, validation_alias=_env("COMPANY_NAME"),
        description="Company named in the classifier prompt.")
    ticket_summary_max_chars: int = Field(
        300, ge=40, le=2000, validation_alias=_env("TICKET_SUMMARY_MAX_CHARS"),
        description="Longest analysis summary accepted from the model.")
    ticket_max_resolution_hours: float = Field(
        720.0, ge=1, le=8760, validation_alias=_env("TICKET_MAX_RESOLUTION_HOURS"),
        description="Upper bound of a valid estimated_resolution_hours.")
    rejected_body_max_chars: int = Field(
        4000, ge=0, le=1_000_000, validation_alias=_env("REJECTED_BODY_MAX_CHARS"),
        description="Raw body kept with a rejected ticket outcome (truncated beyond this).")
    publish_max_tickets: int = Field(
        10_000, ge=1, validation_alias=_env("PUBLISH_MAX_TICKETS"),
        description="Most tickets the publish command sends from one file.")

    # --- answering -----------------------------------------------------------------------
    max_question_chars: int = Field(
        2000, ge=10, validation_alias=_env("MAX_QUESTION_CHARS"), description="Longest question accepted (413).")
    retrieval_top_k: int = Field(
        5, ge=1, le=50, validation_alias=_env("RETRIEVAL_TOP_K"), description="Chunks given to the model.")
    relevance_floor: float = Field(
        0.25, ge=0, le=1, validation_alias=_env("RELEVANCE_FLOOR"),
        description="Minimum cosine similarity for a chunk to count as relevant, for embedding models "
                    "not listed in RELEVANCE_FLOORS.")
    relevance_floors: dict[str, float] = Field(
        default_factory=lambda: {"offline": 0.19, "text-embedding-3-small": 0.3, "text-embedding-3-large": 0.3},
        validation_alias=_env("RELEVANCE_FLOORS"),
        description="JSON: relevance floor per embedding model (cosine scales differ by model), e.g. "
                    "{\"offline\": 0.19}.")
    rrf_k: int = Field(
        60, ge=1, le=1000, validation_alias=_env("RRF_K"),
        description="Reciprocal rank fusion constant: score = sum of 1 / (RRF_K + rank) over both legs.")
    retrieval_candidates: int = Field(
        20, ge=1, le=1000, validation_alias=_env("RETRIEVAL_CANDIDATES"),
        description="Candidates taken from each leg (vector, full text) before fusion (at least top_k); "
                    "4x the default top_k keeps recall@10 at 0.998 and the hybrid step under 5 ms at 100k chunks.")
    max_top_k: int = Field(
        20, ge=1, le=50, validation_alias=_env("MAX_TOP_K"), description="Largest top_k a request may ask for.")
    hnsw_ef_search: int = Field(
        100, ge=10, le=1000, validation_alias=_env("HNSW_EF_SEARCH"),
        description="hnsw.ef_search for retrieval; at 100+ the planner picks the HNSW index under a tenant filter.")
    hnsw_iterative_scan: Literal["off", "relaxed_order", "strict_order"] = Field(
        "relaxed_order", validation_alias=_env("HNSW_ITERATIVE_SCAN"),
        description="pgvector iterative index scans: keep scanning until enough rows pass the tenant filter.")
    hnsw_max_scan_tuples: int = Field(
        20_000, ge=100, validation_alias=_env("HNSW_MAX_SCAN_TUPLES"),
        description="Upper bound on tuples an iterative HNSW scan visits.")
    max_tool_rounds: int = Field(
        3, ge=0, le=10, validation_alias=_env("MAX_TOOL_ROUNDS"),
        description="Model tool-call rounds (search_documents, get_ticket) per answer; 0 disables tools.")
    max_history_tokens: int = Field(
        2000, ge=0, validation_alias=_env("MAX_HISTORY_TOKENS"),
        description="Largest conversation history accepted with a question (413 above).")
    max_ask_body_bytes: int = Field(
        256 * 1024, ge=1024, validation_alias=_env("MAX_ASK_BODY_BYTES"),
        description="Largest /api/ask request body (413 above), history included.")
    answer_prompt_version: str = Field(
        "v1", pattern=r"^v\d+$", validation_alias=_env("ANSWER_PROMPT_VERSION"),
        description="System prompt file shared/prompts/answer/<version>.md.")
    context_token_budget: int = Field(
        3000, ge=200, validation_alias=_env("CONTEXT_TOKEN_BUDGET"), description="Tokens of context per answer.")
    answer_max_tokens: int = Field(
        800, ge=16, validation_alias=_env("ANSWER_MAX_TOKENS"), description="Longest answer generated.")

    # --- validators ----------------------------------------------------------------------
    @field_validator("model_prices", mode="before")
    @classmethod
    def _parse_prices(cls, value: Any) -> Any:
        if isinstance(value, str):
            merged = dict(DEFAULT_PRICES)
            merged.update(json.loads(value))
            return merged
        return value

    @field_validator("ticket_categories", "ticket_priorities", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_target_tokens:
            raise ValueError("CHUNK_OVERLAP_TOKENS must be smaller than CHUNK_TARGET_TOKENS")
        if self.model_provider == "azure" and not self.azure_openai_endpoint:
            raise ValueError("AZURE_OPENAI_ENDPOINT is required when MODEL_PROVIDER=azure")
        if self.model_provider == "openai" and not self.openai_base_url:
            raise ValueError("OPENAI_BASE_URL is required when MODEL_PROVIDER=openai")
        if self.environment == "production":
            if self.allow_tenant_header:
                raise ValueError("ALLOW_TENANT_HEADER must be false when RAGWORKER_ENV=production")
            if not self.database_url:
                raise ValueError("DATABASE_URL is required when RAGWORKER_ENV=production")
        if len(set(self.ticket_categories)) < 2 or len(set(self.ticket_priorities)) < 2:
            raise ValueError("TICKET_CATEGORIES and TICKET_PRIORITIES need at least two distinct values")
        return self

    # --- derived -------------------------------------------------------------------------
    @property
    def provider(self) -> Literal["azure", "openai", "offline"]:
        """The provider actually used once `auto` is resolved."""
        if self.model_provider != "auto":
            return self.model_provider
        if self.azure_openai_endpoint:
            return "azure"
        if self.openai_base_url:
            return "openai"
        return "offline"

    @property
    def auto_migrate(self) -> bool:
        if self.database_auto_migrate is not None:
            return self.database_auto_migrate
        return self.environment == "development"

    @property
    def token_cache_dir(self) -> Path:
        return self.tiktoken_cache_dir or self.data_dir / "tiktoken"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (plus overrides), naming the bad setting on failure."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err["loc"]) or "settings"
            field = Settings.model_fields.get(loc)
            name = _alias_of(field.validation_alias) if field is not None else loc
            problems.append(f"{name}: {err['msg']}")
        raise ConfigurationError("invalid settings: " + "; ".join(problems)) from None


def _alias_of(alias: Any) -> str:
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(alias)


def setting_names() -> dict[str, str]:
    """Field name -> environment variable name, for docs and drift checks."""
    return {name: _alias_of(f.validation_alias) for name, f in Settings.model_fields.items()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
