-- The managed tables that exist, with the size facts a plan shows (one row per table).
-- %(schemas)s and %(names)s are parallel arrays: the qualified names of the managed tables.
-- Sizes are the catalog's own estimates (reltuples, relpages of the table, its TOAST table and its indexes, as
-- the last VACUUM or ANALYZE left them): reading the real file sizes of every table would cost a system call
-- per file on every plan, for a figure only rewriting steps show.
SELECT c.oid,
       n.nspname AS schema_name,
       c.relname AS table_name,
       c.reltuples::bigint AS estimated_rows,
       (c.relpages::bigint + coalesce(toast.relpages, 0)
        + coalesce((SELECT sum(ic.relpages) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                    WHERE i.indrelid = c.oid), 0))
       * current_setting('block_size')::bigint AS estimated_bytes,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       c.relkind = 'p' AS partitioned
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = wanted.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
WHERE c.relkind IN ('r', 'p')
ORDER BY n.nspname, c.relname
