-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-function public.area(integer, integer): declared absent (present: false): public.area(w integer, h integer) RETURNS integer
DROP FUNCTION "public"."area"(w integer, h integer);
COMMIT;
