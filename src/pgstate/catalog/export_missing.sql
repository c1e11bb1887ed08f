-- For tables export did not find (%(schemas)s and %(names)s are parallel arrays): the relations whose names differ
-- only in case, or that have the name but are not tables. Both are likely mistakes worth naming in the hint.
SELECT n.nspname, c.relname, c.relkind::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, table_name)
  ON lower(n.nspname) = lower(wanted.schema_name) AND lower(c.relname) = lower(wanted.table_name)
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY 1, 2
