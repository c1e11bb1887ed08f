-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- set-setting search_path: (not set) -> public, extensions (new sessions)
ALTER DATABASE "{database}" SET "search_path" = 'public', 'extensions';
COMMIT;
