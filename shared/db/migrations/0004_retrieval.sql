-- Retrieval: let the planner see what a vector costs, and build a graph good enough to filter.
--
-- A 1536-dimension vector (6 KB) is over the 2 KB TOAST threshold, so by default it is stored
-- out of line and the table looks small to the planner: an exact scan of a tenant's rows then
-- looks cheaper than the HNSW index, and under a tenant filter the index goes unused (measured
-- at 100k rows, 10 tenants: exact scan at p50 62 ms even with iterative scan and ef_search 200).
-- STORAGE MAIN keeps vectors in the heap row whenever they fit in a page (up to ~2000
-- dimensions; larger ones still move out of line), so the table's size and the plan costs are
-- real and the planner picks HNSW. It then picks HNSW even without iterative scan, where
-- filtered-out neighbours are silently lost: retrieval always sets hnsw.iterative_scan
-- (shared/retrieval/search.py). Applies to rows written after this migration.
ALTER TABLE chunks ALTER COLUMN embedding SET STORAGE MAIN;

-- The HNSW index (m 16, ef_construction 128) is built by 0006, for any supported dimension.
-- Databases migrated before 0006 existed got one here; 0006 rebuilds it the same way.
DROP INDEX IF EXISTS chunks_embedding_idx;
