-- Every row-level security policy of the given tables, its expressions as pg_get_expr prints them (in this
-- session, under its search_path), their parse trees for lint, and what it depends on: the table's columns
-- (a type change must drop and re-create it) and functions (a changed signature must too).
SELECT p.polrelid AS table_oid,
       p.polname AS policy_name,
       CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert' WHEN 'w' THEN 'update'
                     WHEN 'd' THEN 'delete' ELSE 'all' END AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'public' ELSE (SELECT rolname FROM pg_roles WHERE oid = r.oid) END
             FROM unnest(p.polroles) AS r(oid) ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expression,
       pg_get_expr(p.polwithcheck, p.polrelid) AS with_check_expression,
       p.polqual::text AS using_tree,
       p.polwithcheck::text AS with_check_tree,
       ARRAY(SELECT a.attname
             FROM pg_depend d
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid
               AND d.refclassid = 'pg_class'::regclass AND d.refobjid = p.polrelid AND d.refobjsubid > 0
             ORDER BY 1) AS columns,
       ARRAY(SELECT fn.nspname || '.' || f.proname || '(' || oidvectortypes(f.proargtypes) || ')'
             FROM pg_depend d
             JOIN pg_proc f ON f.oid = d.refobjid
             JOIN pg_namespace fn ON fn.oid = f.pronamespace
             WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid AND d.refclassid = 'pg_proc'::regclass
             ORDER BY 1) AS functions
FROM pg_policy p
WHERE p.polrelid = ANY (%(oids)s::oid[])
ORDER BY p.polrelid, p.polname
