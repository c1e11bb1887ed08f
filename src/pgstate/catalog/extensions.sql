-- Extensions: which are available on the server (with their default and every installable version), and which
-- are installed in this database (with version, schema, whether they can move to another schema, and the
-- versions an update can reach from the installed one).
SELECT a.name,
       a.default_version,
       ARRAY(SELECT v.version FROM pg_available_extension_versions v WHERE v.name = a.name ORDER BY 1) AS versions,
       e.extversion AS installed_version,
       n.nspname AS schema_name,
       e.extrelocatable AS relocatable,
       CASE WHEN e.extname IS NOT NULL THEN ARRAY(
           SELECT u.target FROM pg_extension_update_paths(e.extname) u
           WHERE u.source = e.extversion AND u.path IS NOT NULL ORDER BY 1) END AS reachable
FROM pg_available_extensions a
LEFT JOIN pg_extension e ON e.extname = a.name
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace
UNION ALL
SELECT e.extname, NULL, '{}', e.extversion, n.nspname, e.extrelocatable, '{}'
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE NOT EXISTS (SELECT 1 FROM pg_available_extensions a WHERE a.name = e.extname)
