-- The sessions that keep backend %(pid)s waiting for a lock: those holding (or queued before it for) a lock it
-- needs, and, for a concurrent index build, the older transactions it waits out (their virtualxid locks).
SELECT a.pid,
       coalesce(a.application_name, '') AS application,
       coalesce(a.state, '') AS state,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS transaction_seconds,
       left(split_part(coalesce(a.query, ''), E'\n', 1), 120) AS query
FROM unnest(pg_blocking_pids(%(pid)s)) AS blocking(pid)
JOIN pg_stat_activity AS a ON a.pid = blocking.pid
ORDER BY a.xact_start NULLS LAST, a.pid
