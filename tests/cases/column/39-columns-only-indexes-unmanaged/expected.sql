-- pgstate plan
BEGIN;
SET LOCAL lock_timeout = '100ms';
-- alter-column-type public.notes.body: change type character varying(2000) -> text (no rewrite)
ALTER TABLE "public"."notes" ALTER COLUMN "body" TYPE text USING ("body"::text);
COMMIT;
