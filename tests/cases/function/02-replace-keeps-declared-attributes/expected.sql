-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- replace-function public.add_one(integer): public.add_one(n integer) RETURNS integer
CREATE OR REPLACE FUNCTION "public"."add_one"(n integer) RETURNS integer LANGUAGE "sql" IMMUTABLE STRICT SECURITY INVOKER NOT LEAKPROOF PARALLEL SAFE COST 100.0 SET "work_mem" = '64MB' AS 'SELECT n + 2';
COMMIT;
