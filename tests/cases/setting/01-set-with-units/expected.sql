-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- set-setting idle_in_transaction_session_timeout: (not set) -> 1min (new sessions)
ALTER DATABASE "{database}" SET "idle_in_transaction_session_timeout" = '1min';
-- set-setting log_min_duration_statement: (not set) -> 500ms (new sessions)
ALTER DATABASE "{database}" SET "log_min_duration_statement" = '500ms';
COMMIT;
