-- The HNSW index in half precision: an expression index on embedding::halfvec(n).
--
-- pgvector indexes `vector` only up to 2,000 dimensions, so EMBEDDING_DIMENSIONS 3072
-- (text-embedding-3-large) could not even be migrated; `halfvec` indexes up to 4,000. The
-- index is half the size (a 1536-d graph node stores 3 KB instead of 6 KB), so more of it stays
-- in shared_buffers, and each graph insert costs about a fifth less CPU (bench/README.md).
-- The column keeps full precision: search orders candidates by the index's distance and
-- reports the exact one (shared/retrieval/search.py), and re-embedding stores full vectors.
--
-- ef_construction 128 (default 64): on the benchmark corpus recall@10 under a tenant filter at
-- ef_search 100 rises from 0.965 to 0.999 for a 1.6x longer build. ef_search cannot simply be
-- raised instead: at 200 the planner falls back to the exact scan for 40 candidates.
--
-- 0001 and 0004 no longer build a full-precision index for new databases (their text changed,
-- their effect on databases that already applied them did not: this file replaces that index).
DROP INDEX IF EXISTS chunks_embedding_idx;
CREATE INDEX chunks_embedding_idx ON chunks
    USING hnsw ((embedding::halfvec({embedding_dimensions})) halfvec_cosine_ops)
    WITH (m = 16, ef_construction = 128);
