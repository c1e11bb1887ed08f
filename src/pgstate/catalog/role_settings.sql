-- The settings of the named roles (and, once pgstate recorded setting some, of every role: it may have to reset
-- them), for the current database and for every database. A named role without settings still has a row: it
-- exists.
SELECT r.rolname,
       coalesce(s.setdatabase <> 0, false) AS database_only,
       coalesce(s.setconfig, '{}') AS settings
FROM pg_roles r
LEFT JOIN pg_db_role_setting s
       ON s.setrole = r.oid AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
WHERE r.rolname = ANY (%(roles)s) OR (%(every)s AND s.setrole IS NOT NULL)
ORDER BY 1, 2
