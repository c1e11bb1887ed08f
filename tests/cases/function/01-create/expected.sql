-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-function public.add_one(integer): public.add_one(n integer) RETURNS integer
CREATE FUNCTION "public"."add_one"(n integer) RETURNS integer LANGUAGE "sql" IMMUTABLE CALLED ON NULL INPUT SECURITY INVOKER NOT LEAKPROOF PARALLEL UNSAFE COST 100.0 AS 'SELECT n + 1';
COMMIT;
