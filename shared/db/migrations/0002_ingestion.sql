-- Ingestion: where each blob's tenant lives, the shared embeddings token budget, and the
-- side table that holds re-embedded vectors until a model or dimension switch completes.

-- Blob path -> tenant. Not tenant data (paths only, no content): BlobDeleted events and the
-- operator commands need to find a document's tenant when the blob (and its metadata) is gone.
CREATE TABLE ingestion_blobs (
    blob_path  text PRIMARY KEY,
    tenant_id  text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_blobs_tenant_idx ON ingestion_blobs (tenant_id);

-- Tokens granted per sliding window, shared by every invocation on every instance.
CREATE TABLE embedding_quota_grants (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope      text NOT NULL,
    tokens     integer NOT NULL CHECK (tokens >= 0),
    granted_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX embedding_quota_grants_scope_idx ON embedding_quota_grants (scope, granted_at);

-- Grant p_tokens if the window has room (returns the grant id and 0), else return how long
-- until enough earlier grants leave the window. Serialised per scope by an advisory lock.
CREATE FUNCTION ragworker_quota_acquire(p_scope text, p_tokens integer, p_limit integer, p_window double precision)
RETURNS TABLE (grant_id bigint, wait_seconds double precision)
LANGUAGE plpgsql AS $$
DECLARE
    horizon timestamptz;
    used    bigint;
    oldest  timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('ragworker.quota:' || p_scope, 0));
    horizon := clock_timestamp() - make_interval(secs => p_window);
    DELETE FROM embedding_quota_grants g WHERE g.scope = p_scope AND g.granted_at <= horizon;
    SELECT coalesce(sum(g.tokens), 0) INTO used FROM embedding_quota_grants g WHERE g.scope = p_scope;
    IF used + p_tokens <= p_limit THEN
        INSERT INTO embedding_quota_grants (scope, tokens) VALUES (p_scope, p_tokens) RETURNING id INTO grant_id;
        wait_seconds := 0;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT t.granted_at INTO oldest FROM (
        SELECT g.granted_at, sum(g.tokens) OVER (ORDER BY g.granted_at, g.id) AS freed
        FROM embedding_quota_grants g WHERE g.scope = p_scope) t
    WHERE t.freed >= used + p_tokens - p_limit
    ORDER BY t.granted_at LIMIT 1;
    grant_id := NULL;
    wait_seconds := coalesce(
        greatest(extract(epoch FROM oldest + make_interval(secs => p_window) - clock_timestamp())::float8, 0.001),
        p_window);
    RETURN NEXT;
END
$$;

-- Re-embedding without downtime: new vectors are written here beside the live ones, then
-- swapped in by one transaction. Unconstrained `vector` so a new dimension fits.
CREATE TABLE chunk_embeddings_next (
    chunk_id        bigint PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
    tenant_id       text NOT NULL,
    embedding_model text NOT NULL,
    embedding       vector NOT NULL
);
CREATE INDEX chunk_embeddings_next_tenant_idx ON chunk_embeddings_next (tenant_id, embedding_model);

ALTER TABLE chunk_embeddings_next ENABLE ROW LEVEL SECURITY;
ALTER TABLE chunk_embeddings_next FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON chunk_embeddings_next
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
