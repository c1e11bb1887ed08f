-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '2s';
-- alter-extension citext schema: schema public -> extensions
ALTER EXTENSION "citext" SET SCHEMA "extensions";
COMMIT;
