-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- replace-function public.evens(integer): public.evens(n integer) RETURNS SETOF integer
CREATE OR REPLACE FUNCTION "public"."evens"(n integer) RETURNS SETOF integer LANGUAGE "sql" STABLE STRICT SECURITY INVOKER LEAKPROOF PARALLEL SAFE COST 5.0 ROWS 50.0 SET "statement_timeout" = '1s' SET "work_mem" = '4096' AS 'SELECT g FROM generate_series(0, n, 2) g';
COMMIT;
