-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- drop-index public.other_norm_idx: out of the way of a change: btree ((norm(name)))
DROP INDEX "public"."other_norm_idx";
-- drop-function public.norm(text): its signature changes: public.norm(t text) RETURNS text
DROP FUNCTION "public"."norm"(t text);
-- create-function public.norm(text, integer): public.norm(t text, extra integer) RETURNS text
CREATE FUNCTION "public"."norm"(t text, extra integer DEFAULT 0) RETURNS text LANGUAGE "sql" IMMUTABLE CALLED ON NULL INPUT SECURITY INVOKER NOT LEAKPROOF PARALLEL UNSAFE COST 100.0 AS 'SELECT lower(t)';
-- create-index public.other_norm_idx: created again: btree ((norm(name)))
CREATE INDEX "other_norm_idx" ON "public"."other" USING "btree" ((norm(name)));
COMMIT;
