-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-extension citext schema: schema public -> extensions
ALTER EXTENSION "citext" SET SCHEMA "extensions";
COMMIT;
