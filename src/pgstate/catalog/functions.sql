-- Every routine with one of the given names (%(schemas)s and %(names)s are parallel arrays) or oids (the temporary
-- ones desired functions are deparsed on), each overload a row, with every attribute CREATE FUNCTION sets,
-- spelled by the catalog, and what the format cannot express (a procedure or aggregate, a support function,
-- transforms, a language it does not manage).
SELECT p.oid,
       n.nspname AS schema_name,
       p.proname AS function_name,
       oidvectortypes(p.proargtypes) AS argument_types,
       pg_get_function_identity_arguments(p.oid) AS identity_arguments,
       pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS returns,
       l.lanname AS language,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' ELSE 'volatile' END AS volatility,
       p.prosecdef AS security_definer,
       p.proisstrict AS strict,
       p.proleakproof AS leakproof,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' ELSE 'unsafe' END AS parallel,
       p.procost::float8 AS cost,
       p.prorows::float8 AS rows,
       p.proretset AS returns_set,
       coalesce(p.proconfig, '{}') AS config,
       CASE WHEN p.prosqlbody IS NULL THEN p.prosrc END AS body,
       CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) END AS sql_body,
       pg_get_userbyid(p.proowner) AS owner,
       -- Privileges as GRANTs to replay if the function must be dropped and created: NULL when default.
       CASE WHEN p.proacl IS NOT NULL THEN ARRAY(
           SELECT coalesce(quote_ident(r.rolname), 'PUBLIC') || ' ' || a.privilege_type
           FROM aclexplode(p.proacl) AS a LEFT JOIN pg_roles r ON r.oid = a.grantee ORDER BY 1) END AS grants,
       concat_ws('; ',
           CASE p.prokind WHEN 'p' THEN 'it is a procedure' WHEN 'a' THEN 'it is an aggregate'
                          WHEN 'w' THEN 'it is a window function' END,
           CASE WHEN p.prosupport <> 0 THEN 'it has a support function' END,
           CASE WHEN p.protrftypes IS NOT NULL THEN 'it has transforms' END,
           CASE WHEN l.lanname IN ('c', 'internal') THEN 'its language is ' || l.lanname END) AS unsupported
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE ((n.nspname, p.proname) IN (SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[]))
       OR p.oid = ANY (%(oids)s::oid[]))
ORDER BY n.nspname, p.proname, 4
