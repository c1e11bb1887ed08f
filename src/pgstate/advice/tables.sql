-- The user tables the advisor reasons about: their columns (name, type), indexes (key columns, whether they back a
-- constraint, their scans), write counts and whether RLS is on. One row per table.
SELECT n.nspname AS schema, c.relname AS name, c.relrowsecurity AS rls,
       COALESCE(st.n_tup_ins + st.n_tup_upd + st.n_tup_del, 0) AS writes,
       COALESCE(st.n_tup_ins, 0) + COALESCE(st.n_tup_upd - st.n_tup_hot_upd, 0) AS index_writes,
       c.reltuples::bigint AS rows,
       (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT COALESCE(json_agg(json_build_object(
                 'name', ic.relname,
                 'keys', (SELECT json_agg(CASE WHEN k.attnum = 0 THEN NULL ELSE a.attname END ORDER BY k.ord)
                            FROM unnest(i.indkey[:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, ord)
                            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum),
                 'method', am.amname,
                 'partial', i.indpred IS NOT NULL,
                 'valid', i.indisvalid,
                 'unique', i.indisunique,
                 'constraint', EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid),
                 'scans', COALESCE(si.idx_scan, 0),
                 'oid', i.indexrelid::bigint,
                 'definition', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname), '[]'::json)
          FROM pg_index i
          JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_am am ON am.oid = ic.relam
          LEFT JOIN pg_stat_user_indexes si ON si.indexrelid = i.indexrelid
          WHERE i.indrelid = c.oid) AS indexes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgstate')
  AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY 1, 2
