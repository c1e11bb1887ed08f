-- What the statistics say of the given tables' upkeep: the last ANALYZE (manual or auto) and the tuples.
SELECT c.oid,
       greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed,
       coalesce(s.n_live_tup, 0) AS live_tuples,
       coalesce(s.n_dead_tup, 0) AS dead_tuples
FROM pg_class c
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = ANY (%(oids)s::oid[])
