-- What the settings proposals look at: slow-query logging, whether pg_stat_statements collects (preloaded and
-- created here), hypopg (created here, or available to create), the age of the statistics, the server version.
SELECT current_setting('log_min_duration_statement') AS log_min_duration_statement,
       'pg_stat_statements' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
         AS statements_preloaded,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS statements_created,
       (SELECT extversion FROM pg_extension WHERE extname = 'hypopg') AS hypopg_created,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg_available,
       COALESCE((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
                pg_postmaster_start_time()) AS statistics_since,
       current_setting('server_version_num')::int AS version_num,
       pg_is_in_recovery() AS standby
