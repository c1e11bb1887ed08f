-- Every index of the given tables, one row per index. Per-column facts come as the catalog's own arrays
-- (attribute numbers, sort options, operator class and collation oids), resolved in Python against the columns
-- and names queries: aggregating them here would cost a subquery per index. Only expression columns are
-- deparsed here, and only for indexes that have one.
-- The same query reads the live tables and the temporary copies on which desired indexes are deparsed, so both
-- sides are spelled by the same code.
WITH foreign_keys AS (
    -- Foreign keys that reference rows through an index: dropping it would drop them (or fail). Aggregated
    -- once here: pg_constraint has no index on conindid, so a subquery per index would scan it per index.
    SELECT fk.conindid,
           array_agg(quote_ident(fk.conname) || ' on ' || fk.conrelid::regclass::text ORDER BY 1) AS names
    FROM pg_constraint fk
    WHERE fk.contype = 'f' AND fk.confrelid = ANY (%(oids)s::oid[])
    GROUP BY fk.conindid
)
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
       END AS expressions,
       ic.relkind = 'I' AS partitioned,
       ic.relispartition AS inherited,
       coalesce(fks.names, '{}') AS foreign_keys,
       -- Functions its expressions or predicate call, as (schema, name, argument types).
       CASE WHEN i.indexprs IS NOT NULL OR i.indpred IS NOT NULL THEN ARRAY(
           SELECT array[fn.nspname, f.proname, oidvectortypes(f.proargtypes)]
           FROM pg_depend d JOIN pg_proc f ON f.oid = d.refobjid JOIN pg_namespace fn ON fn.oid = f.pronamespace
           WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.refclassid = 'pg_proc'::regclass
           ORDER BY 1) END AS functions
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN foreign_keys fks ON fks.conindid = i.indexrelid
WHERE i.indrelid = ANY (%(oids)s::oid[])
ORDER BY i.indrelid, ic.relname
