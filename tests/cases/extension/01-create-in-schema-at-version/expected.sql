-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-extension pg_trgm: install the extension in this database
CREATE EXTENSION IF NOT EXISTS "pg_trgm" SCHEMA "extensions" VERSION '1.5';
COMMIT;
