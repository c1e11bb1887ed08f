-- The views with the given names (%(schemas)s and %(names)s are parallel arrays) or oids (the temporary ones
-- desired views are deparsed on): their definition as pg_get_viewdef prints it, their columns in order
-- (CREATE OR REPLACE VIEW must keep them), options, owner and privileges.
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
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v'
  AND ((n.nspname, c.relname) IN (SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[]))
       OR c.oid = ANY (%(oids)s::oid[]))
ORDER BY n.nspname, c.relname
