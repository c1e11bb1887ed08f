-- Every live column of the given tables: its type spelled as format_type prints it, its collation when it is
-- not the type's default (quoted as pg_get_indexdef quotes it), whether it is inherited from a parent (a
-- partition's columns change type with the parent's), and what index keys refer to (the attribute number).
SELECT a.attrelid AS table_oid,
       a.attnum,
       a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type_name,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
            THEN (SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
                              ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
                  FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                  WHERE co.oid = a.attcollation) END AS collation_name,
       a.attcollation,
       a.attinhcount > 0 AS inherited
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY (%(oids)s::oid[])
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
