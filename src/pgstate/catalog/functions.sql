-- Every function (not procedure or aggregate) with one of the given names (%(schemas)s and %(names)s are parallel
-- arrays) or oids (the temporary ones desired functions are deparsed on), each overload a row, with the fields
-- CREATE FUNCTION sets, spelled by the catalog.
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
       (SELECT substr(setting, length('search_path=') + 1)
        FROM unnest(p.proconfig) AS setting WHERE setting LIKE 'search\_path=%%') AS search_path,
       p.prosrc AS body,
       pg_get_userbyid(p.proowner) AS owner,
       -- Privileges as GRANTs to replay if the function must be dropped and created: NULL when default.
       CASE WHEN p.proacl IS NOT NULL THEN ARRAY(
           SELECT coalesce(quote_ident(r.rolname), 'PUBLIC') || ' ' || a.privilege_type
           FROM aclexplode(p.proacl) AS a LEFT JOIN pg_roles r ON r.oid = a.grantee ORDER BY 1) END AS grants
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE p.prokind = 'f'
  AND ((n.nspname, p.proname) IN (SELECT * FROM unnest(%(schemas)s::text[], %(names)s::text[]))
       OR p.oid = ANY (%(oids)s::oid[]))
ORDER BY n.nspname, p.proname, 4
