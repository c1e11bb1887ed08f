-- The sessions that hold a table of this database in ACCESS EXCLUSIVE mode: the only lock a catalog read waits
-- for (deparsing an index or a policy takes ACCESS SHARE on its table). Same columns as blockers.sql.
SELECT a.pid,
       coalesce(a.application_name, '') AS application,
       coalesce(a.state, '') AS state,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS transaction_seconds,
       left(split_part(coalesce(a.query, ''), E'\n', 1), 120) AS query
FROM pg_stat_activity AS a
WHERE a.pid <> pg_backend_pid()
  AND EXISTS (SELECT FROM pg_locks AS l
              WHERE l.pid = a.pid
                AND l.locktype = 'relation'
                AND l.mode = 'AccessExclusiveLock'
                AND l.granted
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
ORDER BY a.xact_start NULLS LAST, a.pid
