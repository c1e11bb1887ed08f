-- How far the long statement of one backend is, whichever it runs: an index build (CREATE INDEX or REINDEX
-- CONCURRENTLY), a VACUUM or an ANALYZE. Its phase, and the blocks (or tuples) done of the total.
SELECT phase,
       CASE WHEN blocks_total > 0 THEN blocks_done ELSE tuples_done END AS done,
       CASE WHEN blocks_total > 0 THEN blocks_total ELSE tuples_total END AS total
FROM pg_stat_progress_create_index
WHERE pid = %(pid)s
UNION ALL
SELECT phase, heap_blks_scanned, heap_blks_total FROM pg_stat_progress_vacuum WHERE pid = %(pid)s
UNION ALL
SELECT phase, sample_blks_scanned, sample_blks_total FROM pg_stat_progress_analyze WHERE pid = %(pid)s
