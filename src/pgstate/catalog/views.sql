-- The views with the given names: their definition as pg_get_viewdef prints it, and their columns in order
-- (CREATE OR REPLACE VIEW must keep them). %(schemas)s and %(names)s are parallel arrays.
SELECT c.oid,
       n.nspname AS schema_name,
       c.relname AS view_name,
       pg_get_viewdef(c.oid, true) AS definition,
       ARRAY(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS column_names,
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS column_types,
       coalesce(c.reloptions, '{}') AS options,
       pg_get_userbyid(c.relowner) AS owner,
       CASE WHEN c.relacl IS NOT NULL THEN ARRAY(
           SELECT coalesce(quote_ident(r.rolname), 'PUBLIC') || ' ' || a.privilege_type
           FROM aclexplode(c.relacl) AS a LEFT JOIN pg_roles r ON r.oid = a.grantee ORDER BY 1) END AS grants
FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS wanted(schema_name, view_name)
JOIN pg_namespace n ON n.nspname = wanted.schema_name
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.view_name
WHERE c.relkind = 'v'
ORDER BY n.nspname, c.relname
