-- Facts about the server and session that every plan depends on.
SELECT current_setting('server_version_num')::int AS server_version,
       current_setting('search_path') AS search_path,
       current_database() AS database_name,
       current_user AS user_name,
       to_regclass('pgstate.managed_settings') IS NOT NULL AS has_records,
       -- what one transaction may count on of the shared lock table: the sandbox sizes its rounds by it
       current_setting('max_locks_per_transaction')::int AS max_locks_per_transaction
