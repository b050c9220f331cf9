-- Full text that its GIN index can serve under tenant isolation.
--
-- On chunks, row-level security makes the policy a security barrier: `tsv @@ query` is not
-- LEAKPROOF, so PostgreSQL may not evaluate it before the policy and never uses it as a GIN
-- index condition; the full-text leg read every row of the tenant (100k chunks, 10 tenants:
-- hybrid step p50 71 ms). Only a superuser can mark an operator LEAKPROOF (not on Azure).
--
-- So the text lives again in chunk_fulltext, which the app's identity cannot read: no
-- privileges (shared/db/migrate.py excludes it from the app role's grants) and row-level
-- security enabled, so a stray grant would still see only the connection's tenant. It is
-- read only through ragworker_text_candidates(), which runs as the owner (who is not subject
-- to the unforced policy, so the GIN index is usable) and filters on the connection's tenant
-- itself: the same app.tenant_id setting the policies read, fail-closed when unset.
-- Where the app role owns the schema (the embedded development server) it could read the table
-- directly, as an owner can also turn row-level security off on any of its tables.

-- The tenant is part of each row's tsvector too, as one lexeme that contains a space (no text
-- search parser produces one), so the GIN index intersects the query's words with the tenant's
-- rows instead of fetching every tenant's matches and filtering them (btree_gin would give a
-- (tenant_id, tsv) GIN index, but is not available everywhere this runs).
-- IMMUTABLE although convert_to is only STABLE: a database's encoding never changes.
CREATE FUNCTION ragworker_tenant_lexeme(p_tenant text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'tenant ' || encode(sha256(convert_to(p_tenant, 'UTF8')), 'hex');

CREATE TABLE chunk_fulltext (
    chunk_id    bigint PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
    tenant_id   text NOT NULL,
    document_id bigint NOT NULL,
    tsv         tsvector NOT NULL
);

ALTER TABLE chunk_fulltext ENABLE ROW LEVEL SECURITY;  -- not FORCEd: the owner's reads must be plain
CREATE POLICY tenant_isolation ON chunk_fulltext
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- Kept in sync by triggers that run as the owner (the app role may not write the table).
-- Inserts are handled per statement from the transition table: ingestion moves a document's
-- chunks with one INSERT ... SELECT. Deletes cascade through the foreign key; re-embedding
-- updates only vectors, which no trigger here watches.
CREATE FUNCTION ragworker_fulltext_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    INSERT INTO public.chunk_fulltext (chunk_id, tenant_id, document_id, tsv)
    SELECT n.id, n.tenant_id, n.document_id, n.tsv || array_to_tsvector(ARRAY[public.ragworker_tenant_lexeme(n.tenant_id)])
    FROM new_chunks n;
    RETURN NULL;
END
$$;
CREATE TRIGGER chunks_fulltext_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS new_chunks FOR EACH STATEMENT EXECUTE FUNCTION ragworker_fulltext_insert();

CREATE FUNCTION ragworker_fulltext_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE public.chunk_fulltext SET tenant_id = NEW.tenant_id, document_id = NEW.document_id,
        tsv = NEW.tsv || array_to_tsvector(ARRAY[public.ragworker_tenant_lexeme(NEW.tenant_id)])
    WHERE chunk_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER chunks_fulltext_update AFTER UPDATE OF content, tenant_id, document_id ON chunks
    FOR EACH ROW EXECUTE FUNCTION ragworker_fulltext_update();

-- The words of a websearch query AND the tenant's lexeme; NULL (matching nothing, rather than
-- every row of the tenant) when the words are only stop words.
CREATE FUNCTION ragworker_tenant_query(p_tenant text, p_query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN numnode(websearch_to_tsquery('english', p_query)) > 0
            THEN websearch_to_tsquery('english', p_query) && quote_literal(ragworker_tenant_lexeme(p_tenant))::tsquery
       END;

-- Up to p_limit chunk ids of the connection's tenant matching the websearch query, best first.
-- p_tenant must equal the connection's tenant (as the explicit predicate on chunks does, it
-- narrows; it can never widen). The match is one expression of the parameters, so even a
-- generic plan without statistics estimates it as selective and scans the GIN index. Ranked by
-- ts_rank over the matches only (ts_rank_cd cost ~1 ms more per query for a few hundred
-- matches). A standard SQL body is bound when created, so the caller's search_path cannot
-- redirect any name in it.
CREATE FUNCTION ragworker_text_candidates(p_tenant text, p_query text, p_limit integer, p_doc_ids bigint[])
RETURNS TABLE (id bigint, rank bigint)
LANGUAGE sql STABLE SECURITY DEFINER
ROWS 40  -- about RETRIEVAL_CANDIDATES: the default 1000 misleads the join that follows
BEGIN ATOMIC
    SELECT m.chunk_id, row_number() OVER (ORDER BY m.score DESC, m.chunk_id)
    FROM (SELECT f.chunk_id, ts_rank(f.tsv, w.words) AS score
          FROM chunk_fulltext f, websearch_to_tsquery('english', p_query) AS w (words)
          WHERE f.tenant_id = nullif(current_setting('app.tenant_id', true), '')
            AND f.tenant_id = p_tenant
            AND f.tsv @@ ragworker_tenant_query(p_tenant, p_query)
            AND (p_doc_ids IS NULL OR f.document_id = ANY (p_doc_ids))
          ORDER BY score DESC, f.chunk_id LIMIT p_limit) AS m
    ORDER BY m.score DESC, m.chunk_id;
END;

-- Existing chunks: FORCEd row-level security would hide every row from this migration's
-- role, so it is lifted inside this transaction only.
ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY;
INSERT INTO chunk_fulltext (chunk_id, tenant_id, document_id, tsv)
SELECT id, tenant_id, document_id, tsv || array_to_tsvector(ARRAY[ragworker_tenant_lexeme(tenant_id)]) FROM chunks;
ALTER TABLE chunks FORCE ROW LEVEL SECURITY;

-- Built after the backfill, and without the pending list: with fastupdate, rows inserted since
-- the last vacuum are scanned linearly by every search (measured at 100k chunks: text leg p50
-- 6.1 ms with a pending list, 0.9 ms without). Inserts pay the index update instead.
CREATE INDEX chunk_fulltext_tsv_idx ON chunk_fulltext USING gin (tsv) WITH (fastupdate = off);
ANALYZE chunk_fulltext;

-- The GIN index on chunks can no longer be used by any query under row-level security.
DROP INDEX IF EXISTS chunks_tsv_idx;
