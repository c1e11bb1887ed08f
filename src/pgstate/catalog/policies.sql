-- Row-level security policies of the given tables (%(oids)s) or with the given oids (%(policies)s), their
-- expressions as pg_get_expr prints them (in this session, under its search_path), their parse trees for lint,
-- and what they depend on (pg_depend): the columns of their own table and of others, views, and functions. A
-- type change of such a column, or a drop of such a function or view, must drop the policy first.
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
       -- What it depends on outside its own table: ('column', schema, table, column), ('view', schema, name),
       -- ('table', schema, name); and functions as ('function', schema, name, argument types).
       ARRAY(SELECT CASE WHEN d.refclassid = 'pg_proc'::regclass
                         THEN array['function', fn.nspname, f.proname, oidvectortypes(f.proargtypes)]
                         WHEN d.refobjsubid > 0
                         THEN array['column', rn.nspname, r.relname, a.attname]
                         WHEN r.relkind = 'v' THEN array['view', rn.nspname, r.relname]
                         ELSE array['table', rn.nspname, r.relname] END
             FROM pg_depend d
             LEFT JOIN pg_proc f ON d.refclassid = 'pg_proc'::regclass AND f.oid = d.refobjid
             LEFT JOIN pg_namespace fn ON fn.oid = f.pronamespace
             LEFT JOIN pg_class r ON d.refclassid = 'pg_class'::regclass AND r.oid = d.refobjid
             LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
             LEFT JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
             WHERE d.classid = 'pg_policy'::regclass AND d.objid = p.oid AND d.deptype = 'n'
               AND (d.refclassid = 'pg_proc'::regclass
                    OR (d.refclassid = 'pg_class'::regclass AND d.refobjid <> p.polrelid))
             ORDER BY 1) AS dependencies,
       p.oid
FROM pg_policy p
WHERE p.polrelid = ANY (%(oids)s::oid[]) OR p.oid = ANY (%(policies)s::oid[])
ORDER BY p.polrelid, p.polname
