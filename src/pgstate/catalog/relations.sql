-- Who holds each of the given relation names: names of indexes, tables, views, ... share one namespace per
-- schema, so a desired index name taken by another table's index must be refused, not dropped by mistake.
-- %(schemas)s and %(names)s are parallel arrays.
SELECT n.nspname AS schema_name,
       c.relname AS relation_name,
       c.relkind,
       tn.nspname AS table_schema,
       t.relname AS table_name
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, relation_name)
JOIN pg_namespace n ON n.nspname = wanted.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.relation_name
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = i.indrelid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
