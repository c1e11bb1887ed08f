-- Every name that export could turn into a file or folder name, to find those that only differ in case (or in
-- Unicode normalisation), which case-insensitive file systems would put in one file: the schemas, the tables,
-- views and routines of the schemas %(schemas)s, and the roles.
SELECT 'schema' AS kind, '' AS schema_name, n.nspname AS name FROM pg_namespace n
UNION ALL
SELECT CASE WHEN c.relkind = 'v' THEN 'view' ELSE 'table' END, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v') AND n.nspname = ANY (%(schemas)s::text[])
UNION ALL
SELECT DISTINCT 'function', n.nspname, p.proname
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY (%(schemas)s::text[])
UNION ALL
SELECT 'role', '', r.rolname FROM pg_roles r
