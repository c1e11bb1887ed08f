-- Whether each of the given views checks permissions as the querying user (security_invoker, PostgreSQL 15+).
-- The option is read through PostgreSQL's own boolean input, which accepts every spelling reloptions do (on,
-- true, 1, yes, ...). %(schemas)s and %(names)s are parallel arrays.
SELECT n.nspname AS schema_name,
       c.relname AS view_name,
       coalesce((SELECT o.option_value::boolean
                 FROM pg_options_to_table(c.reloptions) AS o
                 WHERE o.option_name = 'security_invoker'), false) AS security_invoker
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, view_name)
JOIN pg_namespace n ON n.nspname = wanted.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.view_name
WHERE c.relkind = 'v'
ORDER BY n.nspname, c.relname
