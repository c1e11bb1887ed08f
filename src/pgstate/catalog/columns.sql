-- Every live column of the given tables: its type spelled as format_type prints it, and what index keys refer
-- to (the attribute number) and compare with (the column's collation).
SELECT a.attrelid AS table_oid,
       a.attnum,
       a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type_name,
       a.attcollation
FROM pg_attribute a
WHERE a.attrelid = ANY (%(oids)s::oid[])
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
