-- Extensions: which are available on the server, and which are installed in this database (with version).
SELECT a.name, e.extversion AS installed_version
FROM pg_available_extensions a
LEFT JOIN pg_extension e ON e.extname = a.name
UNION
SELECT e.extname, e.extversion FROM pg_extension e
