-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- set-setting temp_tablespaces: (not set) -> pg_default (new sessions)
ALTER DATABASE "{database}" SET "temp_tablespaces" = 'pg_default';
COMMIT;
