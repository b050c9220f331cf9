-- Base schema: the documents ledger, chunks with vectors and full text, ticket outcomes.
-- Every tenant table has row-level security, FORCEd so the owning role is subject too.
-- Placeholders in braces are filled by the migration runner; literal braces are doubled.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id            text NOT NULL,
    blob_path            text NOT NULL,
    etag                 text,
    content_sha256       text,
    content_type         text,
    size_bytes           bigint,
    status               text NOT NULL
        CHECK (status IN ('processing', 'ready', 'failed', 'unsupported', 'too_large')),
    reason               text,
    attempts             integer NOT NULL DEFAULT 0,
    chunk_count          integer NOT NULL DEFAULT 0,
    token_count          integer NOT NULL DEFAULT 0,
    embedding_model      text,
    embedding_dimensions integer,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, blob_path)
);

CREATE TABLE chunks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        text NOT NULL,
    document_id      bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal          integer NOT NULL,
    content          text NOT NULL,
    content_sha256   text NOT NULL,
    heading_path     text[] NOT NULL DEFAULT ARRAY[]::text[],
    page             integer,
    char_start       integer NOT NULL,
    char_end         integer NOT NULL,
    token_count      integer NOT NULL,
    embedding_model  text NOT NULL,
    embedding        vector({embedding_dimensions}) NOT NULL,
    tsv              tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX chunks_tenant_idx ON chunks (tenant_id);
CREATE INDEX chunks_reuse_idx ON chunks (tenant_id, content_sha256, embedding_model);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
-- The HNSW index on embedding is built by 0006 (full precision up to 2,000 dimensions, half above).

CREATE TABLE ticket_outcomes (
    message_id        text PRIMARY KEY,
    tenant_id         text NOT NULL,
    ticket_id         text,
    outcome           text NOT NULL CHECK (outcome IN ('classified', 'rejected', 'filtered', 'refused')),
    reason            text,
    raw_body          text,
    analysis          jsonb,
    model             text,
    prompt_version    text,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    cost_usd          numeric(14, 8) NOT NULL DEFAULT 0,
    latency_ms        integer,
    delivery_count    integer,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_outcomes_ticket_idx ON ticket_outcomes (tenant_id, ticket_id);

ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON documents
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON chunks
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

ALTER TABLE ticket_outcomes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_outcomes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ticket_outcomes
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
