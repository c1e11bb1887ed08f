-- What stands in the way of changing some objects: every object that depends on them (pg_depend), followed
-- through views to the views and policies on those views. The roots are the managed columns whose type may
-- change (%(column_tables)s / %(column_numbers)s, parallel arrays), the live functions that may be dropped and
-- created (%(functions)s) and the views that may be (%(views)s).
-- Of a column, only what ALTER COLUMN ... TYPE refuses over counts: views and rules, policies, triggers,
-- functions with SQL-standard bodies, publications. Its table's own indexes, constraints, defaults, statistics
-- and owned sequences are rebuilt by PostgreSQL itself. Of a function or a view, everything that depends on it.
-- One row per dependent and the object it depends on directly; a view is named by its relation, not its rule.
WITH RECURSIVE
roots (classid, objid, objsubid) AS (
    SELECT 'pg_class'::regclass::oid, r.t, r.n::int4
    FROM unnest(%(column_tables)s::oid[], %(column_numbers)s::int4[]) AS r(t, n)
    UNION ALL
    SELECT 'pg_proc'::regclass::oid, f, 0 FROM unnest(%(functions)s::oid[]) AS f
    UNION ALL
    SELECT 'pg_class'::regclass::oid, v, 0 FROM unnest(%(views)s::oid[]) AS v
),
found (root_classid, root_objid, root_objsubid, parent_classid, parent_objid, classid, objid, objsubid, depth) AS (
    SELECT r.classid, r.objid, r.objsubid, r.classid, r.objid, d.classid, d.objid, d.objsubid, 1
    FROM roots r
    JOIN pg_depend d ON d.refclassid = r.classid AND d.refobjid = r.objid
                    AND (r.objsubid = 0 OR d.refobjsubid = r.objsubid)
    WHERE d.deptype = 'n'
      AND (r.objsubid = 0
           OR d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_trigger'::regclass,
                            'pg_proc'::regclass, 'pg_publication_rel'::regclass))
      -- A view's own rule is the view (PostgreSQL 15 and older record it also as a normal dependency).
      AND NOT EXISTS (SELECT 1 FROM pg_rewrite own
                      WHERE d.classid = 'pg_rewrite'::regclass AND own.oid = d.objid AND own.ev_class = r.objid)
    UNION
    -- A view found: what depends on the view itself (its columns or the whole relation).
    SELECT f.root_classid, f.root_objid, f.root_objsubid, 'pg_class'::regclass::oid, rw.ev_class,
           d.classid, d.objid, d.objsubid, f.depth + 1
    FROM found f
    JOIN pg_rewrite rw ON f.classid = 'pg_rewrite'::regclass AND rw.oid = f.objid
    JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = rw.ev_class
    WHERE d.deptype = 'n' AND f.depth < 32 AND NOT (d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid)
)
SELECT DISTINCT
       f.root_classid::regclass::text AS root_class, f.root_objid, f.root_objsubid,
       f.parent_classid::regclass::text AS parent_class, f.parent_objid,
       f.classid::regclass::text AS dependent_class, f.objid, f.objsubid,
       -- The dependent as pgstate names it: a view by its relation, a policy and an index by their table.
       coalesce(vn.nspname, pn.nspname, xn.nspname) AS schema_name,
       coalesce(v.relname, pt.relname, xt.relname) AS relation_name,
       coalesce(v.relkind::text, '') AS relkind,
       coalesce(rw.rulename, pol.polname, x.relname) AS object_name,
       coalesce(pol.polrelid, xi.indrelid) AS table_oid,
       v.oid AS view_oid,
       pg_describe_object(f.classid, f.objid, f.objsubid) AS description
FROM found f
LEFT JOIN pg_rewrite rw ON f.classid = 'pg_rewrite'::regclass AND rw.oid = f.objid
LEFT JOIN pg_class v ON v.oid = rw.ev_class
LEFT JOIN pg_namespace vn ON vn.oid = v.relnamespace
LEFT JOIN pg_policy pol ON f.classid = 'pg_policy'::regclass AND pol.oid = f.objid
LEFT JOIN pg_class pt ON pt.oid = pol.polrelid
LEFT JOIN pg_namespace pn ON pn.oid = pt.relnamespace
LEFT JOIN pg_class x ON f.classid = 'pg_class'::regclass AND x.oid = f.objid AND x.relkind IN ('i', 'I')
LEFT JOIN pg_index xi ON xi.indexrelid = x.oid
LEFT JOIN pg_class xt ON xt.oid = xi.indrelid
LEFT JOIN pg_namespace xn ON xn.oid = x.relnamespace
ORDER BY 1, 2, 3, 6, 7, 8
