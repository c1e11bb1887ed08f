-- Names of the operator classes and collations the indexes use, quoted as pg_get_indexdef prints them (qualified
-- outside pg_catalog), and whether each operator class is the default one (pg_get_indexdef prints only those
-- that are not).
SELECT 'opclass' AS kind,
       opc.oid,
       CASE WHEN n.nspname = 'pg_catalog' THEN quote_ident(opc.opcname)
            ELSE quote_ident(n.nspname) || '.' || quote_ident(opc.opcname) END AS name,
       opc.opcdefault AS is_default
FROM pg_opclass opc
JOIN pg_namespace n ON n.oid = opc.opcnamespace
WHERE opc.oid = ANY (%(opclasses)s::oid[])
UNION ALL
SELECT 'collation', coll.oid,
       CASE WHEN n.nspname = 'pg_catalog' THEN quote_ident(coll.collname)
            ELSE quote_ident(n.nspname) || '.' || quote_ident(coll.collname) END,
       false
FROM pg_collation coll
JOIN pg_namespace n ON n.oid = coll.collnamespace
WHERE coll.oid = ANY (%(collations)s::oid[])
