-- The workload: the top statements of this database by total execution time, as pg_stat_statements keeps them
-- (normalised: constants are $1, $2, ...). Only what can be planned: SELECT, WITH, UPDATE, DELETE.
SELECT s.query, s.calls, s.total_exec_time, s.mean_exec_time, r.rolname
FROM pg_stat_statements s
LEFT JOIN pg_roles r ON r.oid = s.userid
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.toplevel
  AND s.calls >= %(min_calls)s
  AND s.query ~* '^\s*(select|with|update|delete)\M'
  -- not the catalog's, pgstate's or the tools' own (the statistics' reset, a session's set_config)
  AND s.query !~* '\m(pg_catalog|information_schema|pgstate|pg_stat\w*|hypopg\w*|set_config)\M'
ORDER BY s.total_exec_time DESC
LIMIT %(top)s
