-- The policies of the tables the workload reads: their deparsed expressions, to find per-row calls.
SELECT n.nspname AS schema, c.relname AS "table", p.polname AS name,
       pg_get_expr(p.polqual, p.polrelid) AS using, pg_get_expr(p.polwithcheck, p.polrelid) AS with_check
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgstate')
ORDER BY 1, 2, 3
