-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- create-function public.twice(integer): public.twice(n integer) RETURNS integer
CREATE FUNCTION "public"."twice"(n integer) RETURNS integer LANGUAGE "sql" IMMUTABLE CALLED ON NULL INPUT SECURITY INVOKER NOT LEAKPROOF PARALLEL UNSAFE COST 100.0 RETURN (n * 2);
COMMIT;
