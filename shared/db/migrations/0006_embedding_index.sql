-- The HNSW index on chunks.embedding, built by one function for any supported dimension.
--
-- pgvector indexes `vector` only up to 2,000 dimensions, so EMBEDDING_DIMENSIONS 3072
-- (text-embedding-3-large) could not even be migrated. Above 2,000 the index is built on the
-- vectors cast to `halfvec` (up to 4,000 dimensions, half the size); the column keeps full
-- precision and search reports exact distances (shared/retrieval/search.py orders by the same
-- expression, with the same 2,000 threshold). Up to 2,000 it stays full precision: at 100k
-- chunks x 1536 with a hot cache the half-precision index was half the size (391 vs 781 MB) but
-- its vector leg was 0.8 ms slower at p50 (2.9 vs 2.1 ms; converting halves costs more than
-- reading fewer pages), and a server sized for its index holds it in memory.
--
-- ef_construction 128 (default 64): on the benchmark corpus recall@10 under a tenant filter at
-- ef_search 100 rises from 0.965 to 0.999 for a 1.6x longer build. ef_search cannot simply be
-- raised instead: at 200 the planner falls back to the exact scan for 40 candidates.
--
-- Re-embedding to another dimension calls the same function (shared/ingestion/reembed.py).
-- 0001 and 0004 no longer build an index for new databases (their text changed; on databases
-- that applied them already, this file replaces the index they built). On a large table, run
-- this migration with a generous maintenance_work_mem so the graph is built in memory.
CREATE FUNCTION ragworker_build_embedding_index(p_dimensions integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    DROP INDEX IF EXISTS chunks_embedding_idx;
    IF p_dimensions > 2000 THEN
        EXECUTE format('CREATE INDEX chunks_embedding_idx ON chunks USING hnsw'
                       ' ((embedding::halfvec(%s)) halfvec_cosine_ops) WITH (m = 16, ef_construction = 128)',
                       p_dimensions);
    ELSE
        CREATE INDEX chunks_embedding_idx ON chunks USING hnsw (embedding vector_cosine_ops)
            WITH (m = 16, ef_construction = 128);
    END IF;
END
$$;

SELECT ragworker_build_embedding_index({embedding_dimensions});
