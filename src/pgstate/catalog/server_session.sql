-- Which server session runs this statement: its process and when it started (a pid alone may be reused).
-- db.pooler compares them across transactions and client connections to tell a transaction-mode pooler.
SELECT pid, backend_start
  FROM pg_stat_activity
 WHERE pid = pg_backend_pid()
