-- Every index of the given tables, one row per index column (key columns, then INCLUDE columns).
-- The same query reads the live tables and the temporary copies on which desired indexes are deparsed,
-- so both sides are spelled by the same code.
SELECT i.indrelid AS table_oid,
       ic.relname AS index_name,
       am.amname AS method,
       i.indisunique AS is_unique,
       (i.indisvalid AND i.indisready) AS is_valid,
       con.conname AS constraint_name,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       k.position,
       k.position <= i.indnkeyatts AS is_key,
       a.attname AS column_name,
       CASE WHEN i.indkey[k.position - 1] = 0
            THEN pg_get_indexdef(i.indexrelid, k.position, true) END AS expression,
       coalesce((i.indoption[k.position - 1] & 1) <> 0, false) AS descending,
       coalesce((i.indoption[k.position - 1] & 2) <> 0, false) AS nulls_first,
       -- Name an operator class only when it is not the default one, as pg_get_indexdef does.
       CASE WHEN NOT opc.opcdefault
            THEN CASE WHEN opcn.nspname = 'pg_catalog' THEN quote_ident(opc.opcname)
                      ELSE quote_ident(opcn.nspname) || '.' || quote_ident(opc.opcname) END
       END AS opclass,
       -- Name a collation only when it differs from the column's own.
       CASE WHEN i.indkey[k.position - 1] <> 0
             AND i.indcollation[k.position - 1] <> 0
             AND i.indcollation[k.position - 1] <> a.attcollation
            THEN quote_ident(coll.collname) END AS collation
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
CROSS JOIN LATERAL generate_series(1, i.indnatts) AS k(position)
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.position - 1]
LEFT JOIN pg_opclass opc ON opc.oid = i.indclass[k.position - 1]
LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
LEFT JOIN pg_collation coll ON coll.oid = i.indcollation[k.position - 1]
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = ANY (%(oids)s::oid[])
ORDER BY i.indrelid, ic.relname, k.position
