-- The statement_timeout each role gets here (for this database, or for every database), if any.
SELECT r.rolname,
       (SELECT split_part(setting, '=', 2)
          FROM pg_db_role_setting s, unnest(s.setconfig) AS setting
         WHERE s.setrole = r.oid AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
           AND setting LIKE 'statement_timeout=%%'
         ORDER BY s.setdatabase DESC LIMIT 1) AS statement_timeout
FROM pg_roles r
WHERE r.rolname = ANY (%(roles)s)
