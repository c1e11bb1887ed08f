-- The current database's own settings (ALTER DATABASE ... SET, for every role), its name and the preloaded
-- libraries: one row.
SELECT current_database() AS database_name,
       coalesce((SELECT s.setconfig FROM pg_db_role_setting s
                 JOIN pg_database d ON d.oid = s.setdatabase
                 WHERE d.datname = current_database() AND s.setrole = 0), '{}') AS settings,
       current_setting('shared_preload_libraries') AS preloaded
