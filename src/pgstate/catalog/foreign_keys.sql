-- Every foreign key of the given tables, its referencing columns by name in key order (lint checks that some
-- valid btree index starts with them, or DELETE/UPDATE on the referenced table scans the referencing one).
SELECT con.conrelid AS table_oid,
       con.conname AS constraint_name,
       ARRAY(SELECT a.attname
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.position) AS column_names,
       rn.nspname AS referenced_schema,
       rc.relname AS referenced_table
FROM pg_constraint con
JOIN pg_class rc ON rc.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.contype = 'f'
  AND con.conrelid = ANY (%(oids)s::oid[])
ORDER BY con.conrelid, con.conname
