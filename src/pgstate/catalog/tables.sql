-- The managed tables that exist, with the size facts a plan shows (one row per table).
-- %(schemas)s and %(names)s are parallel arrays: the qualified names of the managed tables.
SELECT c.oid,
       n.nspname AS schema_name,
       c.relname AS table_name,
       c.reltuples::bigint AS estimated_rows,
       pg_total_relation_size(c.oid) AS total_bytes
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
JOIN pg_namespace n ON n.nspname = wanted.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.table_name
WHERE c.relkind IN ('r', 'p')
ORDER BY n.nspname, c.relname
