-- The managed tables that exist, with the facts every kind of table object shares (one row per table).
-- %(schemas)s and %(names)s are parallel arrays: the qualified names of the managed tables.
-- Sizes are the catalog's own estimates (reltuples, relpages of the table, its TOAST table and its indexes, as
-- the last VACUUM or ANALYZE left them): reading the real file sizes of every table would cost a system call
-- per file on every plan, for a figure only rewriting steps show.
-- A partitioned table holds no rows itself: its figures are the sums over its partitions.
SELECT c.oid,
       n.nspname AS schema_name,
       c.relname AS table_name,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(greatest(pc.reltuples, 0)), -1)::bigint
                  FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf)
            ELSE c.reltuples::bigint END AS estimated_rows,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pc.relpages::bigint + coalesce(pt_toast.relpages, 0)
                                      + coalesce((SELECT sum(ic.relpages) FROM pg_index i
                                                  JOIN pg_class ic ON ic.oid = i.indexrelid
                                                  WHERE i.indrelid = pc.oid), 0)), 0)
                  FROM pg_partition_tree(c.oid) pt JOIN pg_class pc ON pc.oid = pt.relid
                  LEFT JOIN pg_class pt_toast ON pt_toast.oid = pc.reltoastrelid
                  WHERE pt.isleaf)
            ELSE c.relpages::bigint + coalesce(toast.relpages, 0)
                 + coalesce((SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                             WHERE i.indrelid = c.oid), 0) END
       * current_setting('block_size')::bigint AS estimated_bytes,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       c.relkind = 'p' AS partitioned,
       pn.nspname AS parent_schema,
       p.relname AS parent_name,
       -- A partitioned table's partitions: (schema, name, is itself partitioned), in name order.
       CASE WHEN c.relkind = 'p' THEN ARRAY(
           SELECT array[kn.nspname, k.relname, (k.relkind = 'p')::text]
           FROM pg_inherits ki JOIN pg_class k ON k.oid = ki.inhrelid JOIN pg_namespace kn ON kn.oid = k.relnamespace
           WHERE ki.inhparent = c.oid ORDER BY 1) END AS partitions,
       pg_get_userbyid(c.relowner) AS owner
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = wanted.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid AND c.relispartition
LEFT JOIN pg_class p ON p.oid = inh.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE c.relkind IN ('r', 'p')
ORDER BY n.nspname, c.relname
