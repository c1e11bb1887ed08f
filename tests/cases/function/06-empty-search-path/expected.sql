-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-function app.whoami(): app.whoami() RETURNS text SECURITY DEFINER
CREATE FUNCTION "app"."whoami"() RETURNS text LANGUAGE "sql" VOLATILE CALLED ON NULL INPUT SECURITY DEFINER NOT LEAKPROOF PARALLEL UNSAFE COST 100.0 SET search_path TO '' AS 'SELECT pg_catalog.current_user()::text';
COMMIT;
