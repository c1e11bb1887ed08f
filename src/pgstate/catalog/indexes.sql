-- Every index of the given tables, one row per index; per-column facts as arrays in column order
-- (key columns, then INCLUDE columns). The same query reads the live tables and the temporary copies on which
-- desired indexes are deparsed, so both sides are spelled by the same code.
SELECT i.indrelid AS table_oid,
       ic.relname AS index_name,
       am.amname AS method,
       i.indisunique AS is_unique,
       (i.indisvalid AND i.indisready) AS is_valid,
       con.conname AS constraint_name,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       i.indnkeyatts AS key_count,
       cols.column_names,
       cols.expressions,
       cols.descending,
       cols.nulls_first,
       cols.opclasses,
       cols.collations
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
CROSS JOIN LATERAL (
    SELECT array_agg(a.attname ORDER BY k.position) AS column_names,
           array_agg(CASE WHEN i.indkey[k.position - 1] = 0
                          THEN pg_get_indexdef(i.indexrelid, k.position, true) END
                     ORDER BY k.position) AS expressions,
           array_agg(coalesce((i.indoption[k.position - 1] & 1) <> 0, false) ORDER BY k.position) AS descending,
           array_agg(coalesce((i.indoption[k.position - 1] & 2) <> 0, false) ORDER BY k.position) AS nulls_first,
           -- An operator class is named only when it is not the default one, as pg_get_indexdef does.
           array_agg(CASE WHEN NOT opc.opcdefault
                          THEN CASE WHEN opcn.nspname = 'pg_catalog' THEN quote_ident(opc.opcname)
                                    ELSE quote_ident(opcn.nspname) || '.' || quote_ident(opc.opcname) END
                     END ORDER BY k.position) AS opclasses,
           -- A collation is named only when it differs from the column's own.
           array_agg(CASE WHEN i.indkey[k.position - 1] <> 0
                           AND i.indcollation[k.position - 1] <> 0
                           AND i.indcollation[k.position - 1] <> a.attcollation
                          THEN quote_ident(coll.collname) END ORDER BY k.position) AS collations
    FROM generate_series(1, i.indnatts) AS k(position)
    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k.position - 1]
    LEFT JOIN pg_opclass opc ON opc.oid = i.indclass[k.position - 1]
    LEFT JOIN pg_namespace opcn ON opcn.oid = opc.opcnamespace
    LEFT JOIN pg_collation coll ON coll.oid = i.indcollation[k.position - 1]
) AS cols
WHERE i.indrelid = ANY (%(oids)s::oid[])
ORDER BY i.indrelid, ic.relname
