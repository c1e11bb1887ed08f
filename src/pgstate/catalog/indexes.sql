-- Every index of the given tables, one row per index. Per-column facts come as the catalog's own arrays
-- (attribute numbers, sort options, operator class and collation oids), resolved in Python against the columns
-- and names queries: aggregating them here would cost a subquery per index. Only expression columns are
-- deparsed here, and only for indexes that have one.
-- The same query reads the live tables and the temporary copies on which desired indexes are deparsed, so both
-- sides are spelled by the same code.
SELECT i.indrelid AS table_oid,
       ic.relname AS index_name,
       am.amname AS method,
       i.indisunique AS is_unique,
       (i.indisvalid AND i.indisready) AS is_valid,
       con.conname AS constraint_name,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       i.indnkeyatts AS key_count,
       i.indkey::int2[] AS attnums,
       i.indoption::int2[] AS options,
       i.indclass::oid[] AS opclasses,
       i.indcollation::oid[] AS collations,
       CASE WHEN 0 = ANY (i.indkey::int2[])
            THEN ARRAY(SELECT CASE WHEN i.indkey[k - 1] = 0 THEN pg_get_indexdef(i.indexrelid, k, true) END
                       FROM generate_series(1, i.indnatts) AS k ORDER BY k)
       END AS expressions
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY (%(oids)s::oid[])
ORDER BY i.indrelid, ic.relname
