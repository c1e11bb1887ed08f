-- What depends on each of the given tables (to be retired): what DROP TABLE without CASCADE would refuse over,
-- and what CASCADE would drop with it. One row per dependent, with what a backup must keep of it: the relation
-- whose definition holds it (the view; the table with the foreign key or policy), or the function.
SELECT d.refobjid AS table_oid, 'view' AS kind, quote_ident(vn.nspname) || '.' || quote_ident(v.relname) AS name,
       vn.nspname AS relation_schema, v.relname AS relation_name, NULL::oid AS function_oid
FROM pg_depend d
JOIN pg_rewrite r ON r.oid = d.objid
JOIN pg_class v ON v.oid = r.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = ANY (%(oids)s::oid[]) AND v.oid <> d.refobjid
UNION
SELECT c.confrelid, 'foreign key', quote_ident(c.conname) || ' on ' || quote_ident(tn.nspname) || '.' || quote_ident(t.relname),
       tn.nspname, t.relname, NULL
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE c.contype = 'f' AND c.confrelid = ANY (%(oids)s::oid[]) AND c.conrelid <> c.confrelid
UNION
SELECT t.oid, 'function', d.objid::regprocedure::text, NULL, NULL, d.objid
FROM pg_class t
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass
               AND ((d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid)
                    OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = t.reltype))
WHERE t.oid = ANY (%(oids)s::oid[])
UNION
SELECT d.refobjid, 'policy', quote_ident(p.polname) || ' on ' || quote_ident(tn.nspname) || '.' || quote_ident(t.relname),
       tn.nspname, t.relname, NULL
FROM pg_depend d
JOIN pg_policy p ON p.oid = d.objid
JOIN pg_class t ON t.oid = p.polrelid
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE d.classid = 'pg_policy'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = ANY (%(oids)s::oid[]) AND p.polrelid <> d.refobjid
UNION
SELECT i.inhparent, 'child table', quote_ident(cn.nspname) || '.' || quote_ident(c.relname), cn.nspname, c.relname, NULL
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace cn ON cn.oid = c.relnamespace
WHERE i.inhparent = ANY (%(oids)s::oid[])
ORDER BY 1, 2, 3
